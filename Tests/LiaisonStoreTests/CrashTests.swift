import Foundation
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonStoreSQLite
import LiaisonTesting
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

/// A child process stores batches of items (each item with its ledger
/// entry, each batch with a signed tree head, one transaction per batch)
/// and reports every acknowledged batch; it is killed with SIGKILL at a
/// random point, 20 times. After each kill, the store reopened: every
/// acknowledged batch is there, no partial batch, one ledger entry per
/// item, SQLite's integrity check passes, and the root re-derived from all
/// entries equals the last signed tree head.
@Suite("Crash safety (invariant 5)", .serialized)
struct CrashTests {
    static let kills = 20
    static let batchSize = 25

    struct Round {
        var acked: [(size: Int, first: String, last: String)] = []
        var killedBySignal = false
    }

    /// Runs the child until it has acknowledged `target` batches, then kills it.
    func runChild(_ arguments: [String], target: Int) throws -> Round {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: liaisonBinary)
        child.arguments = ["ledger", "stress", "--batches", "100000", "--batch-size", "\(Self.batchSize)"] + arguments
        let out = Pipe()
        child.standardOutput = out
        child.standardError = FileHandle.nullDevice
        try child.run()
        var round = Round()
        var buffer = Data()
        reading: while round.acked.count < target {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let nl = buffer.firstIndex(of: 0x0A) {
                let fields = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self).split(separator: " ")
                buffer.removeSubrange(buffer.startIndex...nl)
                guard fields.count == 4, fields[0] == "acked", let n = Int(fields[1]) else { break reading }
                round.acked.append((n, String(fields[2]), String(fields[3])))
            }
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        round.killedBySignal = child.terminationReason == .uncaughtSignal
        return round
    }

    func killRepeatedly(_ arguments: [String], reopen: () async throws -> any NodeStore, integrity: ((any NodeStore) async throws -> String)? = nil) async throws {
        var stored = 0, lost = 0, partial = 0
        for round in 0..<Self.kills {
            let r = try runChild(arguments, target: Int.random(in: 1...30))
            #expect(r.killedBySignal, "round \(round): the child was not killed")
            #expect(!r.acked.isEmpty, "round \(round): nothing was acknowledged")
            let store = try await reopen()
            let size = try await store.size()
            var ids = Set<String>()
            var cursor: Int64?
            while true {
                let page = try await store.holdings(after: cursor, limit: 1000)
                if page.isEmpty { break }
                ids.formUnion(page.map { Hex.encode($0.itemID) })
                cursor = page.last?.sequence
            }
            let missing = r.acked.filter { !ids.contains($0.first) || !ids.contains($0.last) }
            lost += missing.count
            if size % Self.batchSize != 0 { partial += 1 }
            #expect(missing.isEmpty, "round \(round): \(missing.count) acknowledged batches are missing")
            #expect(size >= (r.acked.last?.size ?? 0), "round \(round): \(r.acked.last?.size ?? 0) acknowledged, ledger holds \(size)")
            #expect(size % Self.batchSize == 0, "round \(round): a partial batch was stored (\(size))")
            #expect(ids.count == size, "round \(round): \(ids.count) items for \(size) ledger entries")
            if let integrity { #expect(try await integrity(store) == "ok") }
            let v = try await store.verify()
            #expect(v.isIntact, "round \(round): \(v)")
            #expect(v.treeHeadSize == size, "round \(round): the last signed tree head is at \(v.treeHeadSize ?? -1), the ledger at \(size)")
            stored = size
        }
        #expect(stored > 0)
        print("crash test: \(Self.kills) kills, \(stored) items stored, \(lost) acknowledged batches lost, \(partial) partial batches")
    }

    @Test func sqliteKilledMidBatchLosesNothingAcknowledged() async throws {
        let dir = freshDirectory()
        try await killRepeatedly(["--dir", dir], reopen: { try SQLiteStore(directory: dir) }) { store in
            try await (store as! SQLiteStore).integrityCheck()
        }
    }

    @Test func postgresKilledMidBatchLosesNothingAcknowledged() async throws {
        let database = try await TestPostgres.newDatabase()
        let url = "postgres://\(database.user)@\(database.host):\(database.port)/\(database.database)"
        try await killRepeatedly(["--postgres", url], reopen: { try await TestPostgres.store(database) })
    }
}
