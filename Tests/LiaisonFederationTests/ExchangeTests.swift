import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Logging
import Synchronization
import Testing

/// Nodes on loopback over real mutual TLS: items released at one node
/// arrive at the other exactly once, with receipts both sides can prove.
@Suite("Exchange between nodes", .serialized) struct ExchangeTests {
    static let logger: Logger = {
        var l = Logger(label: "liaison-test")
        l.logLevel = .error
        return l
    }()

    static func label(_ originator: Party = .kor, level: String = "II", to: Set<Party> = [.jpn, .usa], purpose: String? = "dprk-nuclear-missile")
        -> SecurityLabel
    {
        try! SecurityLabel(
            policy: "national:\(originator)", originator: originator, level: level, releasableTo: to, purpose: purpose, created: Date())
    }

    /// Waits until the outbox tasks are settled (done or refused).
    static func settled(_ node: NodeRuntime, _ ids: [Int64], timeout: TimeInterval = 30) async throws -> [OutboxTask] {
        try await FederationTests.settled(ids, timeout: timeout, read: node.store.outboxTask, state: \.state)
    }

    @Test func anItemReleasedToAPeerArrivesOnceWithAReceipt() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: Self.logger)
        defer { Task { await net.stop() } }
        let kor = net[.kor], jpn = net[.jpn]
        let payloads = (0..<5).map { Array("assessment \($0)".utf8) }
        let sealed = try await kor.federation.originate(payloads.map { (Self.label(), "text/plain", $0) })
        var ids: [Int64] = []
        for s in sealed {
            ids.append(try await kor.federation.release(itemID: s.manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016").id)
        }
        let tasks = try await Self.settled(kor, ids)
        #expect(tasks.allSatisfy { $0.state == .done }, "\(tasks.map { "\($0.state) \($0.lastError ?? "")" })")
        // JPN holds each item once, dual-marked, payload intact.
        for (s, p) in zip(sealed, payloads) {
            let held = try await jpn.store.item(s.manifest.itemID)
            #expect(held.payload == p)
            #expect(held.holding.source == .received(from: .kor, agreement: "gsomia-kor-jpn-2016"))
        }
        // Each receipt verifies against JPN's pinned key, and JPN's ledger proves it.
        for t in tasks {
            let proof = try ReceiptProof(canonical: t.receipt!)
            let head = try SignedTreeHead(canonical: try #require(try await kor.store.peerTreeHead(.jpn, size: proof.treeSize)))
            try proof.receipt(treeHead: head).verify(trust: jpn.ledgerTrust)
        }
        #expect(try await jpn.store.verify(trust: jpn.ledgerTrust).isIntact)
        #expect(try await kor.store.verify(trust: kor.ledgerTrust).isIntact)
        // Invariant 3 at the receiving node: the clearance decides, and the read and the refusal are both in the ledger.
        let before = try await jpn.store.size()
        let cleared = Reader(name: "analyst Sato", party: .jpn, clearance: "GOKUHI")
        let uncleared = Reader(name: "analyst Suzuki", party: .jpn, clearance: "HI")
        #expect(try await jpn.federation.read(sealed[0].manifest.itemID, by: cleared).item?.payload == payloads[0])
        let refused = try await jpn.federation.read(sealed[0].manifest.itemID, by: uncleared)
        #expect(refused.item == nil)
        #expect(refused.decision.refusal?.article == .access)
        let recorded = [try await jpn.store.entry(at: before), try await jpn.store.entry(at: before + 1)]
        #expect(recorded.map(\.kind) == [.itemRead, .accessRefused])
        #expect(recorded.allSatisfy { $0.subjects == [sealed[0].manifest.digest] })
        let status = try await kor.federation.status()
        #expect(status.first { $0.party == .jpn }?.delivered == 5)
        #expect(status.first { $0.party == .jpn }?.queued == 0)
    }

    /// Every step of an exchange is timed, on the side that takes it and
    /// for the right peer: what `/metrics` shows of a slow link.
    @Test func everyStepOfAnExchangeIsTimedOnBothSides() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: Self.logger)
        defer { Task { await net.stop() } }
        let kor = net[.kor], jpn = net[.jpn]
        let seen = Mutex<[String: [Duration]]>([:])
        for node in [kor, jpn] {
            let me = node.party
            node.federation.observePhases { peer, phase, took in seen.withLock { $0["\(me)→\(peer) \(phase.side) \(phase)", default: []].append(took) } }
        }
        let sealed = try await kor.federation.originate((0..<3).map { (Self.label(), "text/plain", Array("timed \($0)".utf8)) })
        let released = try await kor.federation.release(sealed.map(\.manifest.itemID), to: .jpn, agreement: "gsomia-kor-jpn-2016")
        let tasks = try await Self.settled(kor, released.queued.map(\.id))
        #expect(tasks.allSatisfy { $0.state == .done })
        // The settlement is timed once its write returns, just after the tasks show as done.
        let keys = ExchangePhase.allCases.map { $0.side == "send" ? "KOR→JPN send \($0)" : "JPN→KOR receive \($0)" }
        for _ in 0..<200 where !seen.withLock({ s in keys.allSatisfy { s[$0] != nil } }) { try await Task.sleep(nanoseconds: 10_000_000) }
        let timed = seen.withLock { $0 }
        for key in keys {
            let times = timed[key] ?? []
            #expect(!times.isEmpty, "\(key) was timed: \(timed.keys.sorted())")
            #expect(times.allSatisfy { $0 > .zero && $0 < .seconds(30) }, "\(key): \(times)")
        }
        // Nothing is timed on the wrong side or for the wrong peer.
        #expect(timed.keys.allSatisfy { $0.hasPrefix("KOR→JPN send ") || $0.hasPrefix("JPN→KOR receive ") }, "\(timed.keys.sorted())")
        // The transport of a batch includes the peer's whole handling of it.
        var handling = Duration.zero
        for step in ["decode", "open", "record", "prove"] { handling += try #require(timed["JPN→KOR receive \(step)"]?.min()) }
        #expect(try #require(timed["KOR→JPN send transport"]?.max()) >= handling)
    }
}

enum FederationTests {
    /// Waits until queued statements are settled (acknowledged or refused).
    static func statementsSettled(_ node: NodeRuntime, _ ids: [Int64], timeout: TimeInterval = 30) async throws -> [StatementTask] {
        try await settled(ids, timeout: timeout, read: node.store.statementTask, state: \.state)
    }

    /// Waits until the queued tasks `read` reads are settled (done or refused), or the timeout passes.
    static func settled<T>(
        _ ids: [Int64], timeout: TimeInterval, read: (Int64) async throws -> T, state: (T) -> QueueState
    ) async throws -> [T] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var tasks: [T] = []
            for id in ids { tasks.append(try await read(id)) }
            if tasks.allSatisfy({ [.done, .refused].contains(state($0)) }) || Date() > deadline { return tasks }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }
}

@Suite("Releases written together") struct ReleaseQueueTests {
    /// Concurrent single releases are written together; each gets its own
    /// task and link number, and one that breaks a rule (queued twice) is
    /// refused alone.
    @Test func concurrentReleasesEachGetTheirAnswer() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger) { s in
            s.gossipInterval = 3600
        }
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation
        let ids = try await kor.originate((0..<200).map { (ExchangeTests.label(to: [.jpn]), "text/plain", Array("r\($0)".utf8)) }).map(\.manifest.itemID)
        let results = await withTaskGroup(of: (Int, Result<OutboxTask, FederationError>).self) { group in
            for (n, id) in (ids + [ids[7]]).enumerated() {
                group.addTask {
                    do throws(FederationError) {
                        return (n, .success(try await kor.release(itemID: id, to: .jpn, agreement: "gsomia-kor-jpn-2016")))
                    } catch { return (n, .failure(error)) }
                }
            }
            var out: [Int: Result<OutboxTask, FederationError>] = [:]
            for await (n, r) in group { out[n] = r }
            return out
        }
        let tasks = results.values.compactMap { try? $0.get() }
        let failures = results.values.compactMap { if case .failure(let e) = $0 { e } else { nil } }
        #expect(tasks.count == 200)
        #expect(failures.count == 1)
        #expect(failures.first?.code == .refused)
        #expect(Set(tasks.map(\.linkSequence)).count == 200)
        #expect(Set(tasks.map(\.itemID)) == Set(ids))
        let done = try await ExchangeTests.settled(net[.kor], tasks.map(\.id), timeout: 60)
        #expect(done.allSatisfy { $0.state == .done })
    }
}
