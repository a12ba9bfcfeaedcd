internal import Foundation
internal import LiaisonApp
internal import LiaisonFederation
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import Logging
internal import Synchronization

/// `liaison bench federation`: two nodes on this machine (KOR → JPN) over
/// mutual TLS 1.3 on loopback, each with its durable SQLite store, 1 KiB
/// items. Throughput: `items` released at once, timed from the first
/// release until the last receipt is verified and stored at the sender.
/// Latency: items released one at a time at a steady `rate`, each timed from
/// its release call to its verified receipt.
public struct FederationBench: Sendable {
    public var items: Int
    public var rate: Int
    public var seconds: Double
    public var runs: Int
    public var batchSize: Int
    public var pipeline: Int
    public var directory: String?
    public var examples: String

    public init(
        items: Int = 200_000, rate: Int = 1000, seconds: Double = 20, runs: Int = 1, batchSize: Int = 1000, pipeline: Int = 2, directory: String? = nil,
        examples: String
    ) {
        (self.items, self.rate, self.seconds, self.runs, self.batchSize, self.pipeline) = (items, rate, seconds, max(1, runs), batchSize, pipeline)
        (self.directory, self.examples) = (directory, examples)
    }

    public struct Result: Sendable, Codable {
        public var name: String
        public var value: Double
        public var unit: String
        public var detail: String
    }

    static let kj = "gsomia-kor-jpn-2016"

    static func label() throws -> SecurityLabel {
        try SecurityLabel(
            policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn],
            categories: [Category(tag: "PROJECT", kind: .restrictive, values: ["EAST-SEA"])], purpose: "dprk-nuclear-missile", created: Date())
    }

    /// Seals and stores `count` 1 KiB items at KOR (not timed).
    static func originate(_ kor: Federation, _ count: Int) async throws -> [[UInt8]] {
        let label = try label()
        var ids: [[UInt8]] = []
        ids.reserveCapacity(count)
        var i = 0
        while i < count {
            let n = min(1000, count - i)
            let batch = (0..<n).map { k -> (label: SecurityLabel, mediaType: String, payload: [UInt8]) in
                var payload = [UInt8](repeating: 0x5A, count: 1024)
                withUnsafeBytes(of: (i + k).bigEndian) { payload.replaceSubrange(0..<8, with: $0) }
                return (label, "application/octet-stream", payload)
            }
            ids += try await kor.originate(batch).map(\.manifest.itemID)
            i += n
        }
        return ids
    }

    func start(_ logger: Logger) async throws -> LocalFederation {
        let root = directory.map { "\($0)/run-\(UUID().uuidString.prefix(8))" }
        let batchSize = self.batchSize, pipeline = self.pipeline
        return try await LocalFederation.start(parties: [.kor, .jpn], examples: examples, directory: root, logger: logger) { s in
            s.federation.batchSize = batchSize
            s.federation.pipeline = pipeline
            s.gossipInterval = 5
        }
    }

    public func run(report: (Result) -> Void, note: (String) -> Void) async throws {
        var logger = Logger(label: "liaison-bench")
        logger.logLevel = .critical
        // Throughput.
        var rates: [Double] = []
        var throughputPhases: [Result] = []
        for run in 0..<runs {
            let net = try await start(logger)
            let kor = net[.kor].federation
            note("run \(run + 1): sealing and storing \(items) items at KOR (not timed)")
            let ids = try await Self.originate(kor, items)
            let phases = Phases(net)
            let times = Times()
            let finished = AsyncStream<Void>.makeStream()
            let total = items
            kor.observeDeliveries { tasks, _ in
                if times.delivered(tasks, at: ContinuousClock.now) >= total { finished.continuation.yield() }
            }
            let started = ContinuousClock.now
            var i = 0
            while i < ids.count {
                let chunk = Array(ids[i..<min(ids.count, i + 1000)])
                let released = try await kor.release(chunk, to: .jpn, agreement: Self.kj)
                guard released.refused.isEmpty else { throw FederationError(.refused, "the bench's items were refused: \(released.refused[0].refusal)") }
                i += chunk.count
            }
            for await _ in finished.stream { break }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            rates.append(Double(items) / seconds)
            if run == runs - 1 { throughputPhases = phases.results("throughput run \(run + 1)") }
            // Check what was measured: every item at JPN once, every receipt verified, both ledgers intact.
            let jpnHoldings = try await count(net[.jpn].store)
            let korOK = try await net[.kor].store.verify(trust: net[.kor].ledgerTrust).isIntact
            let jpnOK = try await net[.jpn].store.verify(trust: net[.jpn].ledgerTrust).isIntact
            let sample = try await sampledReceipts(net, count: 200)
            note(
                "run \(run + 1): \(items) items in \(String(format: "%.2f", seconds)) s; JPN holds \(jpnHoldings); ledgers intact: KOR \(korOK), JPN \(jpnOK); \(sample.good)/\(sample.checked) sampled receipts re-verified")
            guard jpnHoldings == items, korOK, jpnOK, sample.good == sample.checked else {
                throw FederationError(.unverifiable, "the run did not deliver every item exactly once with intact ledgers")
            }
            await net.stop()
            // This run's own folder (under --dir, or a temporary one), not --dir itself.
            try? FileManager.default.removeItem(atPath: net.directory)
        }
        report(
            Result(
                name: "throughput: \(items) items of 1 KiB, KOR → JPN, durable both sides, receipts verified", value: CryptoBench.median(rates), unit: "items/s",
                detail: "runs: " + rates.map { String(format: "%.0f", $0) }.joined(separator: ", ")))
        for r in throughputPhases { report(r) }
        // Latency at a steady rate.
        guard seconds > 0, rate > 0 else { return }
        let net = try await start(logger)
        let kor = net[.kor].federation
        let count = Int(Double(rate) * seconds)
        note("latency: sealing and storing \(count) items at KOR (not timed)")
        let ids = try await Self.originate(kor, count)
        let phases = Phases(net)
        let times = Times()
        let finished = AsyncStream<Void>.makeStream()
        kor.observeDeliveries { tasks, _ in
            if times.delivered(tasks, at: ContinuousClock.now) >= count { finished.continuation.yield() }
        }
        let interval = 1.0 / Double(rate)
        let begin = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for (n, id) in ids.enumerated() {
                let due = begin + .nanoseconds(Int64(Double(n) * interval * 1e9))
                try? await Task.sleep(until: due, clock: .continuous)
                group.addTask {
                    let start = ContinuousClock.now
                    if let t = try? await kor.release(itemID: id, to: .jpn, agreement: Self.kj) { times.released(t.id, at: start) }
                }
            }
        }
        for await _ in finished.stream { break }
        let latencies = times.latencies()
        let sorted = latencies.sorted()
        func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))] }
        let achieved = Double(count) / {
            let d = ContinuousClock.now - begin
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }()
        report(
            Result(
                name: "latency at \(rate) items/s for \(Int(seconds)) s: release → verified receipt, p99", value: p(0.99), unit: "ms",
                detail: String(format: "p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms over %d items (%.0f items/s offered and delivered)", p(0.5), p(0.9), p(0.99), p(0.999), sorted.last ?? 0, sorted.count, achieved)))
        for r in phases.results("latency run") { report(r) }
        await net.stop()
        try? FileManager.default.removeItem(atPath: net.directory)
    }

    /// How long each step of every batch's exchange took (``ExchangePhase``),
    /// as the two nodes report them: where a round's time goes.
    final class Phases: Sendable {
        private let state = Mutex<[ExchangePhase: [Double]]>([:])

        init(_ net: LocalFederation) {
            for party in [Party.kor, .jpn] {
                net[party].federation.observePhases { [self] _, phase, took in
                    let ms = Double(took.components.seconds) * 1000 + Double(took.components.attoseconds) / 1e15
                    self.state.withLock { $0[phase, default: []].append(ms) }
                }
            }
        }

        /// One result per phase: its median per batch, with p90, p99 and the number of batches.
        func results(_ run: String) -> [Result] {
            state.withLock { s in
                ExchangePhase.allCases.compactMap { phase in
                    guard let v = s[phase]?.sorted(), !v.isEmpty else { return nil }
                    func p(_ q: Double) -> Double { v[min(v.count - 1, Int(Double(v.count - 1) * q))] }
                    return Result(
                        name: "\(run), per batch: \(phase.side == "send" ? "KOR" : "JPN") \(phase.rawValue), p50", value: p(0.5), unit: "ms",
                        detail: String(format: "p90 %.2f ms, p99 %.2f ms over %d batches", p(0.9), p(0.99), v.count))
                }
            }
        }
    }

    /// When each task was released and when its receipt was stored.
    final class Times: Sendable {
        private let state = Mutex<(released: [Int64: ContinuousClock.Instant], delivered: [Int64: ContinuousClock.Instant])>(([:], [:]))
        func released(_ id: Int64, at t: ContinuousClock.Instant) { state.withLock { $0.released[id] = t } }
        /// Records deliveries; returns how many so far.
        func delivered(_ ids: [Int64], at t: ContinuousClock.Instant) -> Int {
            state.withLock { s in
                for id in ids { s.delivered[id] = t }
                return s.delivered.count
            }
        }
        /// Milliseconds from release to receipt, per task.
        func latencies() -> [Double] {
            state.withLock { s in
                s.delivered.compactMap { id, end in
                    s.released[id].map { start in
                        let d = end - start
                        return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
                    }
                }
            }
        }
    }

    func count(_ store: any NodeStore) async throws -> Int {
        var n = 0
        var cursor: Int64?
        while true {
            let page = try await store.holdings(after: cursor, limit: 1000)
            if page.isEmpty { return n }
            n += page.count
            cursor = page.last!.sequence
        }
    }

    /// Re-verifies the stored receipts of a sample of delivered tasks from scratch.
    func sampledReceipts(_ net: LocalFederation, count: Int) async throws -> (checked: Int, good: Int) {
        var checked = 0, good = 0
        let kor = net[.kor].store
        var heads: [Int: SignedTreeHead] = [:]
        for id in stride(from: Int64(1), through: Int64(items), by: max(1, items / count)) {
            let t = try await kor.outboxTask(id)
            checked += 1
            guard let bytes = t.receipt, let proof = try? ReceiptProof(canonical: bytes) else { continue }
            if heads[proof.treeSize] == nil, let h = try await kor.peerTreeHead(.jpn, size: proof.treeSize) {
                heads[proof.treeSize] = try SignedTreeHead(canonical: h)
            }
            guard let head = heads[proof.treeSize] else { continue }
            if (try? proof.receipt(treeHead: head).verify(trust: net[.jpn].ledgerTrust)) != nil { good += 1 }
        }
        return (checked, good)
    }
}
