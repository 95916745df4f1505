// Storm's multilang protocol for Node.js components: extend Spout or Bolt and call run().
// Messages are JSON, each followed by a line "end", on stdin (from the worker) and stdout (to it).
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

function send(message) {
  process.stdout.write(JSON.stringify(message) + '\nend\n');
}

class Component {
  initialize(conf, context) {}

  log(message, level = 2) { send({command: 'log', msg: String(message), level}); }
  reportError(message) { send({command: 'error', msg: String(message)}); }

  run() {
    let lines = [];
    let setUp = false;
    const input = readline.createInterface({input: process.stdin});
    input.on('line', (line) => {
      if (line !== 'end') { lines.push(line); return; }
      const message = JSON.parse(lines.join('\n'));
      lines = [];
      try {
        if (!setUp) {
          setUp = true;
          fs.closeSync(fs.openSync(path.join(message.pidDir, String(process.pid)), 'w'));
          send({pid: process.pid});
          this.initialize(message.conf, message.context);
        } else {
          this.handle(message);
        }
      } catch (error) {
        this.reportError(error.stack || String(error));
        process.exit(1);
      }
    });
    input.on('close', () => process.exit(0));
  }
}

class Spout extends Component {
  nextTuple() {}
  ack(id) {}
  fail(id) {}
  activate() {}
  deactivate() {}

  // The worker is not told the chosen tasks (need_task_ids false): nothing to wait for.
  emit(values, {id, stream, task} = {}) {
    const message = {command: 'emit', tuple: values, need_task_ids: false};
    if (id !== undefined) message.id = id;
    if (stream !== undefined) message.stream = stream;
    if (task !== undefined) message.task = task;
    send(message);
  }

  handle(message) {
    switch (message.command) {
      case 'next': this.nextTuple(); break;
      case 'ack': this.ack(message.id); break;
      case 'fail': this.fail(message.id); break;
      case 'activate': this.activate(); break;
      case 'deactivate': this.deactivate(); break;
    }
    send({command: 'sync'});
  }
}

class Bolt extends Component {
  process(tuple) {}

  emit(values, {anchors = [], stream, task} = {}) {
    const message = {command: 'emit', tuple: values, anchors: anchors.map((t) => t.id), need_task_ids: false};
    if (stream !== undefined) message.stream = stream;
    if (task !== undefined) message.task = task;
    send(message);
  }

  ack(tuple) { send({command: 'ack', id: tuple.id}); }
  fail(tuple) { send({command: 'fail', id: tuple.id}); }

  handle(message) {
    if (message.task === -1 && message.stream === '__heartbeat') { send({command: 'sync'}); return; }
    this.process({id: message.id, component: message.comp, stream: message.stream, task: message.task, values: message.tuple});
  }
}

module.exports = {Spout, Bolt};
