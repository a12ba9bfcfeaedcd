import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonTesting
import Logging

/// Fault 1: two `liaison serve` nodes (KOR → JPN) transfer `items` items
/// while the driver kills the sender or the receiver with SIGKILL `kills`
/// times at random instants and restarts it. After each kill the victim's
/// store is checked (its own integrity check, the ledger re-derived); at
/// the end every item is counted on both sides.
struct Crash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Kill the sender or receiver with SIGKILL at random instants during a transfer; count lost and duplicated items.")

    @Option(help: "Items to transfer (1 KiB each).") var items = 100_000
    @Option(help: "SIGKILLs, each followed by a restart.") var kills = 20
    @Option(help: "sqlite or postgres.") var store = "sqlite"
    @Option(help: "Seconds between kills: a random value from 0.2 to this.") var gap = 2.0
    @Option(help: "Random seed (default: random, printed).") var seed: UInt64?
    @OptionGroup var common: CommonOptions

    func run() async throws {
        guard ["sqlite", "postgres"].contains(store) else { throw ValidationError("--store is sqlite or postgres, not \(store)") }
        guard items > 0, kills >= 0 else { throw ValidationError("--items must be positive and --kills not negative") }
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var random = SplitMix(seed: seed)
        let root = try common.workDirectory("crash")
        print("crash: \(store), \(items) items of 1 KiB KOR → JPN, \(kills) SIGKILLs, seed \(seed), in \(root)")
        var postgres: [Party: String] = [:]
        if store == "postgres" {
            let cluster = try LocalPostgresCluster.shared.get()
            for p in [Party.kor, .jpn] {
                postgres[p] = "postgres://\(cluster.user)@127.0.0.1:\(cluster.port)/\(try cluster.createDatabase())"
            }
        }
        let nodes = try ServedNodes(root: root, liaison: try common.liaisonBinary(), examples: try common.examplesDirectory(), parties: [.kor, .jpn], postgres: postgres, lease: 5)
        defer { nodes.stopAll() }
        // The items are sealed, stored and released at KOR before the nodes start (not timed).
        try Preload.run(directory: nodes.directory(.kor), items: items)
        try nodes.start(.jpn)
        try nodes.start(.kor)
        let started = Date()
        func delivered() -> Int { nodes.peerFigure(.kor, peer: .jpn, "delivered") ?? 0 }
        var integrityOK = 0, duringTransfer = 0, victims: [Party: Int] = [:]
        var lastRestart = Date()
        for k in 1...max(kills, 1) where kills > 0 {
            usleep(useconds_t(random.uniform(0.2, max(0.2, gap)) * 1e6))
            let before = delivered()
            if before < items { duringTransfer += 1 }
            let victim: Party = random.next() % 2 == 0 ? .kor : .jpn
            victims[victim, default: 0] += 1
            guard nodes.kill(victim) else { throw FaultError("kill \(k): \(victim)'s node was not ended by SIGKILL") }
            let (integrity, ledger) = try await nodes.check(victim)
            let ok = integrity == "ok" && ledger.isIntact
            if ok { integrityOK += 1 }
            print(
                "kill \(k): \(victim) at \(before)/\(items) delivered; integrity \(integrity), ledger \(ledger.isIntact ? "intact" : "NOT INTACT: \(ledger)") (\(ledger.size) entries)"
            )
            usleep(useconds_t(random.uniform(0, 0.5) * 1e6))
            try nodes.start(victim)
            lastRestart = Date()
        }
        // Drain: every item delivered with its receipt at KOR.
        let deadline = Date().addingTimeInterval(120 + Double(items) / 500)
        while delivered() < items {
            guard Date() < deadline else { break }
            usleep(100_000)
        }
        let drained = delivered() >= items
        let drain = Date().timeIntervalSince(lastRestart)
        let total = Date().timeIntervalSince(started)
        guard nodes.stop(.kor), nodes.stop(.jpn) else { throw FaultError("a node did not stop cleanly on SIGTERM") }
        print(String(format: "transfer: %@ after %.1f s, %.1f s after the last restart", drained ? "drained" : "NOT DRAINED", total, drain))

        let count = try await Count.transfer(nodes, from: .kor, to: .jpn, expected: items)
        var verified = 0
        for p in [Party.kor, .jpn] {
            let (integrity, ledger) = try await nodes.check(p)
            let cli = try common.run(["ledger", "verify", "--dir", nodes.directory(p)] + (postgres[p].map { ["--postgres", $0] } ?? []))
            if integrity == "ok", ledger.isIntact, cli.status == 0 { verified += 1 } else {
                print("\(p): integrity \(integrity), ledger \(ledger), liaison ledger verify: \(cli.status) \(cli.output)")
            }
        }
        print(count.description)
        let victimText = victims.sorted { $0.key.code < $1.key.code }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print(
            "result: \(store): \(items) items, \(kills) kills (\(victimText); \(duringTransfer) during the transfer): lost \(count.lost), delivered twice \(count.duplicated), integrity ok after \(integrityOK)/\(kills) kills, ledgers verified \(verified)/2 (liaison ledger verify), drain \(String(format: "%.1f", drain)) s"
        )
        guard drained, count.lost == 0, count.duplicated == 0, count.complete, integrityOK == kills, verified == 2, duringTransfer == kills else {
            if duringTransfer < kills { print("only \(duringTransfer) of \(kills) kills fell during the transfer: give more --items or a shorter --gap") }
            throw ExitCode(1)
        }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: root) }
    }
}
