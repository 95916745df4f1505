// A spout in Node.js: Storm's five sentences in turn, each with a message id; `limit` of them when the conf's
// polyglot.sentences is set, else without end.
'use strict';
const {Spout} = require('./multilang');

const SENTENCES = [
  'the cow jumped over the moon', 'an apple a day keeps the doctor away', 'four score and seven years ago',
  'snow white and the seven dwarfs', 'i am at two with nature',
];

class Sentences extends Spout {
  initialize(conf, context) {
    this.limit = conf['polyglot.sentences'] || Infinity;
    this.sent = 0;
  }

  nextTuple() {
    if (this.sent >= this.limit) return;
    this.emit([SENTENCES[this.sent % SENTENCES.length]], {id: this.sent});
    this.sent += 1;
  }
}

new Sentences().run();
