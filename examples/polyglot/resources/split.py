"""A split bolt in Python: each sentence becomes its words (anchored to it), then it is acked."""
from stormclient.multilang import BasicBolt


class SplitSentence(BasicBolt):
    def process(self, tup):
        for word in tup.values[0].split():
            self.emit([word])


if __name__ == "__main__":
    SplitSentence().run()
