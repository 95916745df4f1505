# Storm's multilang protocol for Ruby components: subclass Multilang::Bolt and call run.
# Messages are JSON, each followed by a line "end", on stdin (from the worker) and stdout (to it).
require 'json'

module Multilang
  Tuple = Struct.new(:id, :component, :stream, :task, :values)

  def self.read_message
    lines = []
    loop do
      line = $stdin.gets
      raise EOFError, 'the worker closed stdin' if line.nil?
      line = line.chomp
      return JSON.parse(lines.join("\n")) if line == 'end'
      lines << line
    end
  end

  def self.send_message(message)
    $stdout.write(message.to_json + "\nend\n")
    $stdout.flush
  end

  class Bolt
    def initialize_component(conf, context); end

    def process(tuple); end

    def emit(values, anchors: [], stream: nil, task: nil)
      message = { 'command' => 'emit', 'tuple' => values, 'anchors' => anchors.map(&:id), 'need_task_ids' => false }
      message['stream'] = stream if stream
      message['task'] = task if task
      Multilang.send_message(message)
    end

    def ack(tuple) = Multilang.send_message({ 'command' => 'ack', 'id' => tuple.id })
    def fail(tuple) = Multilang.send_message({ 'command' => 'fail', 'id' => tuple.id })
    def log(message, level = 2) = Multilang.send_message({ 'command' => 'log', 'msg' => message.to_s, 'level' => level })

    def run
      setup = Multilang.read_message
      File.write(File.join(setup['pidDir'], Process.pid.to_s), '')
      Multilang.send_message({ 'pid' => Process.pid })
      initialize_component(setup['conf'], setup['context'])
      loop do
        m = Multilang.read_message
        if m['task'] == -1 && m['stream'] == '__heartbeat'
          Multilang.send_message({ 'command' => 'sync' })
        else
          process(Tuple.new(m['id'], m['comp'], m['stream'], m['task'], m['tuple']))
        end
      end
    rescue EOFError
      nil
    end
  end
end
