import ArgumentParser
import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Logging

/// Fault 5: JPN's node, as KOR sees it through gossip, serves a head that
/// rolls its ledger back, forks it, or cannot be proved consistent, in
/// `trials` trials with random sizes and roots. Each must raise KOR's alarm
/// in the very gossip round that fetched it; the honest round before each
/// must not (no false alarm).
struct LedgerAttacks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Rolled-back, forked and unprovable tree heads: each caught by the peer within one gossip round.")

    @Option(help: "Trials (the attacks taken in turn).") var trials = 700
    @Option(help: "Random seed (default: random, printed).") var seed: UInt64?
    @OptionGroup var common: CommonOptions

    enum Attack: String, CaseIterable {
        case forkSameSize = "fork: another root at the size seen"
        case forkAhead = "fork: a larger head with another root"
        case rollback = "rollback: an earlier head served as the latest"
        case malformedProof = "unprovable: a consistency proof that does not decode"
        case wrongProof = "unprovable: a well-formed consistency proof that does not hold"
        case otherKey = "a head signed with another key"
        case otherParty = "another party's head served as its own"
    }

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        var random = SplitMix(seed: seed)
        var logger = Logger(label: "liaison-faults", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        let net = try await LocalFederation.start(
            parties: [.kor, .jpn], examples: try common.examplesDirectory(), directory: try common.workDirectory("ledger"), logger: logger
        ) { s in s.gossipInterval = 3600 }
        let kor = net[.kor].federation, jpn = net[.jpn]
        let link = net[.kor].transport(to: .jpn)
        let jpnKey = try NodeDirectory(path: jpn.settings.directory).load().signing
        let korKey = try NodeDirectory(path: net[.kor].settings.directory).load().signing
        func grow(_ n: Int) async throws {
            let entries = (0..<n).map { LedgerEntry(kind: .lifecycleStatement, at: Date(), detail: "fault driver: JPN's ledger grows (\($0))") }
            _ = try await jpn.store.append(entries, sign: jpn.federation.treeHeadSigner)
        }
        func randomRoot() -> [UInt8] { (0..<32).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
        print("ledger: \(trials) trials over \(Attack.allCases.count) attacks, seed \(seed)")
        var caught: [Attack: Int] = [:], tried: [Attack: Int] = [:], falseAlarms = 0, misses: [String] = []
        let started = Date()
        try await grow(3)
        for t in 0..<trials {
            try await grow(Int(random.next() % 3) + 1)
            // The honest round: no alarm.
            do { try await kor.gossipOnce(with: .jpn, over: link) } catch {
                falseAlarms += 1
                print("  trial \(t): FALSE ALARM on the honest head: \(error)")
                try await kor.acknowledgeAlarm(.jpn, by: "fault driver")
                continue
            }
            guard let seen = try await net[.kor].store.peer(.jpn).treeSize else { throw FaultError("KOR recorded no head of JPN") }
            let attack = Attack.allCases[t % Attack.allCases.count]
            tried[attack, default: 0] += 1
            let lying: LyingTransport
            switch attack {
            case .forkSameSize:
                let forged = try Signed(signing: TreeHead(party: .jpn, size: seen, root: randomRoot(), at: Date()), with: jpnKey)
                lying = LyingTransport(real: link, head: forged.derBytes, proof: nil)
            case .forkAhead:
                let k = Int(random.next() % 5) + 1
                try await grow(k)
                let forged = try Signed(signing: TreeHead(party: .jpn, size: seen + k, root: randomRoot(), at: Date()), with: jpnKey)
                lying = LyingTransport(real: link, head: forged.derBytes, proof: nil)
            case .rollback:
                let size = Int(random.next() % UInt64(seen - 1)) + 1
                let earlier = try Signed(signing: TreeHead(party: .jpn, size: size, root: try await jpn.store.root(size: size), at: Date()), with: jpnKey)
                lying = LyingTransport(real: link, head: earlier.derBytes, proof: nil)
            case .malformedProof:
                try await grow(Int(random.next() % 5) + 1)
                lying = LyingTransport(real: link, head: nil, proof: (0..<(Int(random.next() % 200) + 1)).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            case .wrongProof:
                try await grow(Int(random.next() % 5) + 1)
                lying = LyingTransport(real: link, head: nil, proof: AuditPath((0..<(Int(random.next() % 8) + 1)).map { _ in randomRoot() }).bytes)
            case .otherKey:
                let forged = try Signed(signing: TreeHead(party: .jpn, size: seen, root: try await jpn.store.root(size: seen), at: Date()), with: korKey)
                lying = LyingTransport(real: link, head: forged.derBytes, proof: nil)
            case .otherParty:
                let theirs = try await net[.kor].federation.latestTreeHead()
                lying = LyingTransport(real: link, head: theirs, proof: nil)
            }
            do {
                try await kor.gossipOnce(with: .jpn, over: lying)
                misses.append("trial \(t): \(attack.rawValue) was not caught")
            } catch where error.code == .alarm {
                caught[attack, default: 0] += 1
            } catch {
                misses.append("trial \(t): \(attack.rawValue) ended without an alarm: \(error)")
            }
            // A security officer acknowledges; the next round checks the real head again.
            if try await net[.kor].store.peer(.jpn).alarm != nil { try await kor.acknowledgeAlarm(.jpn, by: "fault driver") }
        }
        for a in Attack.allCases { print("  \(a.rawValue): \(caught[a, default: 0])/\(tried[a, default: 0]) caught in the round that fetched it") }
        for m in misses.prefix(20) { print("  MISSED: \(m)") }
        let total = caught.values.reduce(0, +)
        print(
            "result: \(total)/\(trials) attacks caught within one gossip round (\(String(format: "%.1f", 100 * Double(total) / Double(max(trials, 1))))%), \(falseAlarms) false alarms on \(trials) honest rounds; \(String(format: "%.0f", Date().timeIntervalSince(started))) s"
        )
        await net.stop()
        guard total == trials, falseAlarms == 0 else { throw ExitCode(1) }
        if common.dir == nil { try? FileManager.default.removeItem(atPath: net.directory) }
    }
}
