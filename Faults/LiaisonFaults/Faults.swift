import ArgumentParser
import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonStore

/// `LiaisonFaults`: the fault suite's drivers (scripts/faults/ runs them;
/// RELIABILITY.md reports what they found). Each takes a size parameter
/// and exits non-zero when an expectation fails.
@main
struct LiaisonFaults: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "liaison-faults",
        abstract: "Fault tests against real Liaison nodes: crashes, hostile networks, tampering.",
        subcommands: [Crash.self, Chaos.self, Tamper.self, LedgerAttacks.self, Leaks.self, DiskFull.self, SlowClients.self, ClockSkew.self, PreloadCommand.self])
}

struct CommonOptions: ParsableArguments {
    @Option(help: "The liaison binary (default: the one beside this program).") var liaison: String?
    @Option(help: "The Examples folder (default: ./Examples).") var examples: String?
    @Option(help: "Work directory (default: a new temporary one, removed on success).") var dir: String?

    func liaisonBinary() throws -> String {
        if let liaison { return liaison }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("liaison").path
        guard FileManager.default.isExecutableFile(atPath: beside) else { throw FaultError("no liaison binary beside this program; give --liaison") }
        return beside
    }

    func examplesDirectory() throws -> String {
        let path = examples ?? FileManager.default.currentDirectoryPath + "/Examples"
        guard FileManager.default.fileExists(atPath: path + "/agreements") else { throw FaultError("\(path) holds no agreements/; give --examples") }
        return path
    }

    func workDirectory(_ name: String) throws -> String {
        let path = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("liaison-\(name)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs the liaison binary to its end; its status and output.
    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try liaisonBinary())
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}


/// What a transfer left on both sides, counted from the stores themselves.
struct Count: CustomStringConvertible {
    var expected = 0
    /// The sender's tasks to the receiver, by state, and those with a stored receipt; items with more than one task.
    var tasks = 0, done = 0, withReceipt = 0, pending = 0, refused = 0, queuedTwice = 0
    /// Items the receiver holds from the sender; the distinct test items among them.
    var received = 0, distinct = 0
    /// Released test items the receiver does not hold (refused ones apart).
    var lost = 0
    /// Items held more than once at the receiver (the same test item under two ids), or accepted
    /// more than once in its ledger (any second acceptance, "already held" or not, is a second delivery).
    var heldTwice = 0, acceptedTwice = 0
    var duplicated: Int { heldTwice + acceptedTwice + queuedTwice }
    /// Every expected item released once, delivered with a receipt, and held once.
    var complete: Bool { tasks == expected && done == expected && withReceipt == expected && distinct == expected && received == expected }

    var description: String {
        "count: sender \(tasks) tasks for \(expected) items (\(done) delivered, \(withReceipt) with a receipt, \(pending) not yet, \(refused) refused, \(queuedTwice) items queued twice); receiver holds \(received) (\(distinct) distinct); lost \(lost), held twice \(heldTwice), accepted twice in the ledger \(acceptedTwice)"
    }

    static func transfer(_ nodes: ServedNodes, from sender: Party, to receiver: Party, expected: Int) async throws -> Count {
        var c = Count(expected: expected)
        let s = try await nodes.openStore(sender)
        var released = Set<[UInt8]>(), refusedItems = Set<[UInt8]>()
        var before: Int64?
        while true {
            let page = try await s.outboxTasks(itemID: nil, before: before, limit: 1000)
            guard let last = page.last else { break }
            for t in page where t.peer == receiver {
                c.tasks += 1
                if !released.insert(t.itemID).inserted { c.queuedTwice += 1 }
                switch t.state {
                case .done: c.done += 1
                case .refused:
                    c.refused += 1
                    refusedItems.insert(t.itemID)
                default: c.pending += 1
                }
                if t.receipt != nil { c.withReceipt += 1 }
            }
            before = last.id
        }
        let r = try await nodes.openStore(receiver)
        var numbers: [Int: Int] = [:]
        var held = Set<[UInt8]>()
        var cursor: Int64?
        while true {
            let page = try await r.holdings(after: cursor, limit: 500)
            guard let last = page.last else { break }
            let mine = page.filter { $0.originator == sender }
            for item in try await r.items(mine.map(\.itemID)) {
                c.received += 1
                held.insert(item.holding.itemID)
                if let n = item.payload.flatMap(Preload.number) { numbers[n, default: 0] += 1 }
            }
            cursor = last.sequence
        }
        c.distinct = numbers.count
        c.lost = released.subtracting(held).subtracting(refusedItems).count
        c.heldTwice = numbers.values.reduce(0) { $0 + max(0, $1 - 1) }
        var accepted: [[UInt8]: Int] = [:]
        let size = try await r.size()
        for i in 0..<size {
            let e = try await r.entry(at: i)
            guard e.kind == .itemReceived, e.party == sender, let digest = e.subjects.first else { continue }
            accepted[digest, default: 0] += 1
        }
        c.acceptedTwice = accepted.values.reduce(0) { $0 + max(0, $1 - 1) }
        return c
    }
}
