import Testing

@testable import StormCore

@Suite struct MetricsReporterSpecTests {
    func refusal(_ reporters: ConfigValue) -> String {
        do {
            _ = try MetricsReporterSpec.parse(StormConfig([ConfigKey.topologyMetricsReporters: reporters]))
            return "accepted"
        } catch {
            return error.description
        }
    }

    @Test func stormsReporterEntriesParseWithTheirDefaults() throws {
        let specs = try MetricsReporterSpec.parse(
            StormConfig([
                ConfigKey.localDir: "/var/storm",
                ConfigKey.topologyMetricsReporters: [
                    ["class": "org.apache.storm.metrics2.reporters.CsvStormReporter"],
                    [
                        "class": "org.apache.storm.metrics2.reporters.ConsoleStormReporter", "report.period": 2,
                        "report.period.units": "minutes",
                        "filter": ["class": "org.apache.storm.metrics2.filters.RegexFilter", "expression": "emit"],
                    ],
                ],
            ]))
        #expect(specs.map(\.kind) == [.csv, .console])
        #expect(
            specs[0].periodSeconds == 10 && specs[0].csvDirectory == "/var/storm/csvmetrics" && specs[0].filter == nil)
        #expect(specs[1].periodSeconds == 120 && specs[1].filter == "emit")
    }

    @Test func aBadEntryIsRefusedInOneLineNamingIt() {
        let csv = "org.apache.storm.metrics2.reporters.CsvStormReporter"
        #expect(refusal(["not a map"]).hasPrefix("config key 'topology.metrics.reporters' entry 1: must be a map"))
        #expect(refusal([[:]]).hasSuffix("entry 1: has no 'class'"))
        #expect(
            refusal([["class": .string(csv), "report.period.units": "FORTNIGHTS"]]).contains(
                "'report.period.units' must be one of"))
        #expect(
            refusal([["class": .string(csv), "filter": ["class": "my.Filter", "expression": "x"]]]).contains(
                "'filter' must be a map with class org.apache.storm.metrics2.filters.RegexFilter"))
        #expect(
            refusal([
                ["class": .string(csv)],
                [
                    "class": .string(csv),
                    "filter": ["class": "org.apache.storm.metrics2.filters.RegexFilter", "expression": "(unclosed"],
                ],
            ])
            .contains("entry 2: the filter's expression '(unclosed' is not a regular expression"))
        do {
            try TopologyValidator.validateConf(StormConfig([ConfigKey.topologyMetricsMaxSeries: -1]))
            Issue.record("a negative series limit was accepted")
        } catch {
            #expect(
                error.description
                    == "topology conf 'topology.metrics.max.series' must be a non-negative integer, not -1")
        }
    }
}
