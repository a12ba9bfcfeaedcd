import Foundation
import LiaisonSealing
import LiaisonStore
import LiaisonStoreSQLite
import Testing

/// The `liaison` binary beside the test bundle.
private var liaisonBinary: String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("liaison").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return "liaison"
}

@Suite("Crash safety (invariant 5)")
struct CrashTests {
    /// A child process appends batches and reports each acknowledged size;
    /// it is killed with SIGKILL at a random point, several times. After
    /// each kill: every acknowledged batch is there, no partial batch, the
    /// SQLite integrity check passes, and the root re-derived from all
    /// entries equals the last signed tree head.
    @Test func killedMidBatchLosesNothingAcknowledged() async throws {
        let dir = freshDirectory()
        let batchSize = 25
        var lastAcked = 0
        for round in 0..<5 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: liaisonBinary)
            child.arguments = ["ledger", "stress", "--dir", dir, "--batches", "100000", "--batch-size", "\(batchSize)"]
            let out = Pipe()
            child.standardOutput = out
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Let it acknowledge a random number of batches, then kill it.
            let target = Int.random(in: 1...40)
            var acked: [Int] = []
            var buffer = Data()
            while acked.count < target {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let nl = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    if line.hasPrefix("acked "), let n = Int(line.dropFirst(6)) { acked.append(n) }
                }
            }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal, "round \(round): the child was not killed")
            #expect(!acked.isEmpty, "round \(round): nothing was acknowledged")
            lastAcked = acked.last ?? lastAcked

            let store = try SQLiteStore(directory: dir)
            let size = try await store.size()
            #expect(size >= lastAcked, "round \(round): \(lastAcked) acknowledged, \(size) stored")
            #expect(size % batchSize == 0, "round \(round): a partial batch was stored (\(size))")
            #expect(try await store.integrityCheck() == "ok")
            let v = try await store.verify()
            #expect(v.isIntact, "round \(round): \(v)")
            #expect(v.treeHeadSize == size)
            lastAcked = size
        }
    }
}
