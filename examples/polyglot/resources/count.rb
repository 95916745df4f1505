# A bolt in Ruby: counts each word and emits [word, count], anchored to the word's tuple.
require_relative 'multilang'

class Count < Multilang::Bolt
  def initialize_component(conf, context)
    @counts = Hash.new(0)
  end

  def process(tuple)
    word = tuple.values[0]
    @counts[word] += 1
    emit([word, @counts[word]], anchors: [tuple])
    ack(tuple)
  end
end

Count.new.run
