import Testing

@testable import StormCore

@Suite struct WorkerMallocTuningTests {
    @Test func aWorkersEnvironmentGetsTheTunableBesideWhatItHad() {
        let plain = WorkerMallocTuning.environment(["PATH": "/bin"])
        #expect(plain == ["PATH": "/bin", "GLIBC_TUNABLES": "glibc.malloc.tcache_count=128"])
        let other = WorkerMallocTuning.environment(["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"])
        #expect(other["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=128")
    }

    @Test func anOperatorsOwnSettingStands() {
        let set = ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=7"]
        #expect(WorkerMallocTuning.environment(set) == set)
    }
}
