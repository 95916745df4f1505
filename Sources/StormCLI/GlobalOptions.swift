import ArgumentParser
import Foundation
import StormCore

/// `--config FILE` and `-c key=value`, with Storm's precedence: defaults < storm.yaml < -c options.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: "A storm.yaml to read instead of ~/.storm/storm.yaml.")
    var configFile: String?

    @Option(name: .customShort("c"), help: "Override a config key (repeatable), e.g. -c nimbus.thrift.port=6627.")
    var overrides: [String] = []

    func load() throws -> StormConfig {
        do {
            var conf = StormConfig.defaults
            if let file = configFile {
                conf = conf.merging(try StormConfig.load(yamlFile: file))
            } else if let file = Self.defaultConfigFile() {
                conf = conf.merging(try StormConfig.load(yamlFile: file))
            }
            for option in overrides {
                let (key, value) = try StormConfig.parseOption(option)
                conf[key] = value
            }
            return conf
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
    }

    /// Where Storm looks when no --config is given: $STORM_CONF_DIR/storm.yaml, then ~/.storm/storm.yaml.
    static func defaultConfigFile() -> String? {
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let dir = env["STORM_CONF_DIR"] { candidates.append(dir + "/storm.yaml") }
        if let home = env["HOME"] { candidates.append(home + "/.storm/storm.yaml") }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}
