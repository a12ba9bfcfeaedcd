internal import Foundation
internal import LiaisonLedger
internal import LiaisonModel
internal import LiaisonSealing
internal import LiaisonStore
internal import LiaisonStorePostgres
internal import LiaisonStoreSQLite

/// `liaison bench store`: durable items/s for batches of 1, 100 and 1000 on
/// both back ends, ledger appends/s, and proof latency at 1M leaves. Every
/// write is a durable commit (SQLite WAL + synchronous=FULL; PostgreSQL
/// with its default fsync and synchronous_commit). Each figure is the
/// median of `runs` timed runs, each on a fresh store.
public struct StoreBench: Sendable {
    public typealias Row = CryptoBench.Row

    public var runs: Int
    public var scale: Double
    public var filter: String?
    /// The PostgreSQL server URL (its administrative database); `nil`
    /// starts a throwaway local cluster.
    public var postgresURL: String?
    /// Where the SQLite stores go (a fresh directory per run).
    public var directory: String

    public init(runs: Int = 3, scale: Double = 1, filter: String? = nil, postgresURL: String? = nil, directory: String? = nil) {
        self.runs = max(1, runs)
        self.scale = scale
        self.filter = filter
        self.postgresURL = postgresURL
        self.directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("liaison-bench-\(UUID().uuidString.prefix(8))").path
    }

    func n(_ base: Int) -> Int { max(1, Int(Double(base) * scale)) }
    func wanted(_ name: String) -> Bool { filter.map { name.contains($0) } ?? true }

    static let signer = try! SigningKey.generate(.hybridPQ)
    static let t0 = Date(timeIntervalSince1970: 1_574_560_800)

    static func sign(_ size: Int, _ root: [UInt8]) throws -> SignedTreeHead {
        try Signed(signing: TreeHead(party: .kor, size: size, root: root, at: t0), with: signer)
    }

    /// `count` items of 1 KiB sealed by KOR, 1000 per origin signature, each
    /// thousand a millisecond after the last (as a feed seals them).
    static func items(_ count: Int) throws -> [NewItem] {
        let label = try SecurityLabel(
            policy: "gsomia-kor-jpn-2016", originator: .kor, level: "II", releasableTo: [.jpn],
            categories: [Category(tag: "PROJECT", kind: .restrictive, values: ["EAST-SEA"])], created: t0)
        var out: [NewItem] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            let n = min(1000, count - i)
            let batch = (0..<n).map { k -> (label: SecurityLabel, mediaType: String, payload: [UInt8]) in
                var payload = [UInt8](repeating: 0x5A, count: 1024)
                withUnsafeBytes(of: (i + k).bigEndian) { payload.replaceSubrange(0..<8, with: $0) }
                return (label, "application/octet-stream", payload)
            }
            out += try signer.sealOrigin(batch, originator: .kor, at: t0.addingTimeInterval(Double(i) / 1000)).map { NewItem($0, source: .originated, at: t0) }
            i += n
        }
        return out
    }

    static func entries(_ count: Int, from start: Int = 0) -> [LedgerEntry] {
        (start..<(start + count)).map { i in
            LedgerEntry(kind: .itemSealed, at: t0, party: .jpn, subjects: [MerkleHash.leaf(withUnsafeBytes(of: i.bigEndian) { Array($0) })], detail: "")
        }
    }

    func measure(_ name: String, unit: String, ops: Int, _ body: () async throws -> Void) async throws -> Row {
        var rates: [Double] = []
        for _ in 0..<runs {
            let start = ContinuousClock.now
            try await body()
            let elapsed = ContinuousClock.now - start
            rates.append(Double(ops) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        }
        return Row(name: name, unit: unit, median: CryptoBench.median(rates), runs: rates)
    }

    /// Measures `body` once per run, each run on a fresh, empty store made
    /// before the timing starts.
    func measureOnFreshStores(
        _ name: String, unit: String, ops: Int, _ backend: Backend, _ body: (any NodeStore) async throws -> Void
    ) async throws -> Row {
        var stores: [any NodeStore] = []
        for _ in 0..<runs { stores.append(try await backend.make()) }
        var run = 0
        return try await measure(name, unit: unit, ops: ops) {
            let store = stores[run]
            run += 1
            try await body(store)
        }
    }

    /// Sends every batch of `batches` (ids of the first items of `pool`) to
    /// JPN as a transfer does: queued with a ledger entry each, claimed, and
    /// settled delivered with a 600-byte receipt each and one ledger entry.
    /// The time spent queueing, claiming and settling.
    static func sendAll(_ batches: [[[UInt8]]], of pool: [NewItem], through store: any NodeStore) async throws -> [Duration] {
        try await store.savePeer(.jpn, endpoint: "https://jpn.example", fingerprint: "sha256:00")
        let receipt = [UInt8](repeating: 0xA5, count: 600)
        var spent: [Duration] = [.zero, .zero, .zero]
        var first = 0
        for ids in batches {
            let digests = pool[first..<(first + ids.count)].map(\.sealed.manifest.digest)
            first += ids.count
            let entries = digests.map { LedgerEntry(kind: .itemSent, at: t0, party: .jpn, subjects: [$0], detail: "released under gsomia-kor-jpn-2016, queued") }
            var t = ContinuousClock.now
            _ = try await store.enqueueOutbox(
                ids.map { OutboxRequest(itemID: $0, peer: .jpn, agreement: "gsomia-kor-jpn-2016") }, at: t0, ledger: LedgerWrite(entries, sign: nil))
            spent[0] += ContinuousClock.now - t
            t = ContinuousClock.now
            let claimed = try await store.claimOutbox(peer: .jpn, owner: "bench", limit: ids.count, now: t0, lease: 60)
            spent[1] += ContinuousClock.now - t
            t = ContinuousClock.now
            _ = try await store.settleOutbox(
                claimed.map { SettledTask(id: $0.id, outcome: .delivered(receipt: receipt)) }, owner: "bench", at: t0,
                ledger: LedgerWrite([LedgerEntry(kind: .receiptStored, at: t0, party: .jpn, subjects: digests, detail: "delivered")], sign: nil))
            spent[2] += ContinuousClock.now - t
        }
        return spent
    }

    /// A back end under test: how to make a fresh, empty store.
    struct Backend {
        var name: String
        var make: () async throws -> any NodeStore
    }

    /// Runs every figure, reporting each row as it is measured.
    public func run(report: (Row) -> Void, note: (String) -> Void) async throws {
        // A bad URL is refused before anything is measured.
        let given = try postgresURL.map { url throws(StoreError) in try PostgresLocation(url: url) }
        var backends: [Backend] = []
        let key = StorageKey.generate()
        var counter = 0
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dir = directory
        backends.append(
            Backend(name: "sqlite") {
                counter += 1
                return try SQLiteStore(directory: "\(dir)/sqlite-\(counter)", storageKey: key)
            })
        if wanted("postgres") {
            do {
                let server = try given ?? LocalPostgresCluster.shared.get().location
                backends.append(
                    Backend(name: "postgres") {
                        counter += 1
                        let name = "bench_\(UUID().uuidString.prefix(8).lowercased())_\(counter)"
                        try await PostgresStore.createDatabase(name, at: server)
                        return try await PostgresStore(configuration: server.with(database: name).configuration(), storageKey: key)
                    })
            } catch {
                note("postgres: not measured: \(error)")
            }
        }

        let perBatchSize = [1: n(400), 100: n(20_000), 1000: n(50_000)]
        let pool = try Self.items(perBatchSize.values.max()!)
        for backend in backends {
            // Items: a batch of items with one ledger entry each, in one durable
            // transaction; a tree head signed every 1000 items.
            for (batch, total) in perBatchSize.sorted(by: { $0.key < $1.key }) {
                let name = "\(backend.name): store items, batches of \(batch) (1 KiB, label, seal, ledger entry; durable)"
                guard wanted(name) else { continue }
                let row = try await measureOnFreshStores(name, unit: "items/s", ops: total, backend) { store in
                    var i = 0
                    while i < total {
                        let slice = Array(pool[i..<min(i + batch, total)])
                        let entries = slice.map { LedgerEntry(kind: .itemSealed, at: Self.t0, subjects: [$0.sealed.manifest.digest]) }
                        i += slice.count
                        _ = try await store.storeItems(slice, ledger: LedgerWrite(entries, sign: i % 1000 == 0 ? Self.sign : nil))
                    }
                }
                report(row)
            }
            // A receiver's batch: the items, an inbox row and a ledger entry
            // each, one signed tree head per batch (as a node answers a
            // peer's batch with a receipt), in one durable transaction.
            let receivedName = "\(backend.name): record a peer's batches of 1000 (items, inbox rows, ledger; durable)"
            if wanted(receivedName) {
                let total = perBatchSize[1000]!
                let received = pool[0..<total].map { NewItem($0.sealed, source: .received(from: .kor, agreement: "gsomia-kor-jpn-2016"), at: Self.t0) }
                report(
                    try await measureOnFreshStores(receivedName, unit: "items/s", ops: total, backend) { store in
                        for start in stride(from: 0, to: total, by: 1000) {
                            let slice = Array(received[start..<min(start + 1000, total)])
                            let entries = slice.map { LedgerEntry(kind: .itemReceived, at: Self.t0, party: .kor, subjects: [$0.sealed.manifest.digest]) }
                            let records = slice.enumerated().map { n, item in
                                NewInbound(
                                    peer: .kor, linkSequence: Int64(start + n + 1), digest: item.sealed.manifest.digest, at: Self.t0,
                                    outcome: .accepted(itemID: item.sealed.manifest.itemID), ledgerOffset: n)
                            }
                            _ = try await store.recordInbound(records, items: slice, ledger: LedgerWrite(entries, sign: Self.sign))
                        }
                    })
            }
            // Batches of 1000 from two writers at once: one prepares (checks,
            // encrypts) while the other's batch commits.
            let pairName = "\(backend.name): store items, batches of 1000, 2 concurrent writers (durable)"
            if wanted(pairName) {
                let total = perBatchSize[1000]!
                report(
                    try await measureOnFreshStores(pairName, unit: "items/s", ops: total, backend) { store in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for writer in 0..<2 {
                                group.addTask {
                                    for start in stride(from: writer * 1000, to: total, by: 2000) {
                                        let slice = Array(pool[start..<min(start + 1000, total)])
                                        let entries = slice.map { LedgerEntry(kind: .itemSealed, at: Self.t0, subjects: [$0.sealed.manifest.digest]) }
                                        _ = try await store.storeItems(slice, ledger: LedgerWrite(entries, sign: Self.sign))
                                    }
                                }
                            }
                            try await group.waitForAll()
                        }
                    })
            }
            // Reads in batches of 1000 from a store of 50,000 items: a
            // release's check (holdings) and a sender's batch (items, their
            // payloads decrypted and checked against their seals).
            let holdingsName = "\(backend.name): read holdings, batches of 1000 (a release's check)"
            let itemsName = "\(backend.name): read items, batches of 1000 (a sender's batch: decrypted, seals checked)"
            let statusName = "\(backend.name): a peer's sync status after \(perBatchSize[1000]!) deliveries"
            let backlogName = "\(backend.name): a peer's sync status with \(perBatchSize[1000]!) tasks waiting"
            let queueNames = [
                "\(backend.name): queue for a peer, batches of 1000 (outbox rows, ledger entries; durable)",
                "\(backend.name): claim queued tasks, batches of 1000",
                "\(backend.name): settle delivered tasks, batches of 1000 (receipts, ledger entry; durable)",
            ]
            if wanted(holdingsName) || wanted(itemsName) || wanted(statusName) || wanted(backlogName) || queueNames.contains(where: wanted) {
                let total = perBatchSize[1000]!
                // A store holding the first `total` items of the pool, unledgered.
                func filled() async throws -> any NodeStore {
                    let store = try await backend.make()
                    for start in stride(from: 0, to: total, by: 1000) {
                        _ = try await store.storeItems(Array(pool[start..<min(start + 1000, total)]), ledger: .none)
                    }
                    return store
                }
                let store = try await filled()
                let batches = stride(from: 0, to: total, by: 1000).map { start in pool[start..<min(start + 1000, total)].map(\.sealed.manifest.itemID) }
                if wanted(holdingsName) {
                    report(try await measure(holdingsName, unit: "items/s", ops: total) { for ids in batches { _ = try await store.holdings(ids) } })
                }
                if wanted(itemsName) {
                    report(try await measure(itemsName, unit: "items/s", ops: total) { for ids in batches { _ = try await store.items(ids) } })
                }
                // A sender's queue, batch by batch, as in a transfer: the
                // release queues 1000 items for a peer (outbox rows and one
                // ledger entry each), the sender claims them, and settles
                // them delivered (a receipt each, one ledger entry for the
                // batch). Each run on a fresh store holding the items.
                if queueNames.contains(where: wanted) {
                    var seconds: [[Double]] = [[], [], []]
                    for _ in 0..<runs {
                        let spent = try await Self.sendAll(batches, of: pool, through: try await filled())
                        for i in 0..<3 {
                            seconds[i].append(Double(spent[i].components.seconds) + Double(spent[i].components.attoseconds) / 1e18)
                        }
                    }
                    for (name, times) in zip(queueNames, seconds) where wanted(name) {
                        let rates = times.map { Double(total) / $0 }
                        report(Row(name: name, unit: "items/s", median: CryptoBench.median(rates), runs: rates))
                    }
                }
                // A peer's sync status (what `/metrics`, the console and
                // the status file read, each second) once every item was
                // sent to it and delivered.
                if wanted(statusName) {
                    _ = try await Self.sendAll(batches, of: pool, through: store)
                    let calls = 200
                    let row = try await measure(statusName, unit: "calls/s", ops: calls) {
                        for _ in 0..<calls { _ = try await store.outboxSummary(peer: .jpn) }
                    }
                    report(row)
                }
                // The same with every item queued to another peer and none
                // claimed yet (a backlog): what the status costs while a
                // queue is long.
                if wanted(backlogName) {
                    try await store.savePeer(.usa, endpoint: "https://usa.example", fingerprint: "sha256:01")
                    for ids in batches {
                        _ = try await store.enqueueOutbox(
                            ids.map { OutboxRequest(itemID: $0, peer: .usa, agreement: "gsomia-kor-usa-1987") }, at: Self.t0, ledger: .none)
                    }
                    let calls = 50
                    report(
                        try await measure(backlogName, unit: "calls/s", ops: calls) {
                            for _ in 0..<calls { _ = try await store.outboxSummary(peer: .usa) }
                        })
                }
            }
            // Single-item writes from many concurrent writers: group commit.
            let concurrentName = "\(backend.name): store items, 1 per write, 64 concurrent writers (durable)"
            if wanted(concurrentName) {
                let total = n(5_000)
                report(
                    try await measureOnFreshStores(concurrentName, unit: "items/s", ops: total, backend) { store in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for writer in 0..<64 {
                                group.addTask {
                                    for i in stride(from: writer, to: total, by: 64) {
                                        let item = pool[i]
                                        _ = try await store.storeItems(
                                            [item], ledger: LedgerWrite([LedgerEntry(kind: .itemSealed, at: Self.t0, subjects: [item.sealed.manifest.digest])], sign: nil))
                                    }
                                }
                            }
                            try await group.waitForAll()
                        }
                    })
            }
            // Ledger appends in batches of 1000, 10,000 and 100,000 (the largest
            // a store takes), one signed tree head per batch.
            for batch in [1000, 10_000, 100_000] {
                let appendName = "\(backend.name): ledger append, batches of \(batch) (durable, signed tree head per batch)"
                guard wanted(appendName) else { continue }
                let total = n(backend.name == "sqlite" ? 400_000 : 100_000)
                let entries = Self.entries(total)
                report(
                    try await measureOnFreshStores(appendName, unit: "leaves/s", ops: total, backend) { store in
                        for start in stride(from: 0, to: total, by: batch) {
                            _ = try await store.append(Array(entries[start..<min(start + batch, total)]), sign: Self.sign)
                        }
                    })
            }
            // Proofs at 1M leaves (scaled down with --scale below 1).
            let size = min(1_000_000, n(1_000_000))
            let leavesName = size == 1_000_000 ? "1M" : "\(size)"
            let inclusionName = "\(backend.name): inclusion proof at \(leavesName) leaves"
            let consistencyName = "\(backend.name): consistency proof at \(leavesName) leaves"
            if wanted(inclusionName) || wanted(consistencyName) {
                let store = try await backend.make()
                let chunk = 10_000
                for start in stride(from: 0, to: size, by: chunk) {
                    let n = min(chunk, size - start)
                    _ = try await store.append(Self.entries(n, from: start), sign: start + n == size ? Self.sign : nil)
                }
                // Proofs are measured in a steady state: the bulk load's WAL
                // copied into the database file first.
                if let sqlite = store as? SQLiteStore { try await sqlite.checkpoint() }
                note("\(backend.name): built a ledger of \(try await store.size()) leaves")
                let probes = n(10_000)
                var rng = SystemRandomNumberGenerator()
                let indices = (0..<probes).map { _ in Int.random(in: 0..<size, using: &rng) }
                if wanted(inclusionName) {
                    report(
                        try await measure(inclusionName, unit: "proofs/s", ops: probes) {
                            for i in indices { _ = try await store.inclusionProof(index: i, size: size) }
                        })
                }
                if wanted(consistencyName) {
                    report(
                        try await measure(consistencyName, unit: "proofs/s", ops: probes) {
                            for i in indices { _ = try await store.consistencyProof(old: max(1, i), new: size) }
                        })
                }
            }
        }
        // The Merkle computation alone, for comparison.
        let memoryName = "memory: ledger append, compute only (leaf hash and completed subtrees)"
        if wanted(memoryName) {
            let total = n(1_000_000)
            let leaves = Self.entries(total).map(\.derBytes)
            report(
                try await measure(memoryName, unit: "leaves/s", ops: total) {
                    var range = CompactRange()
                    for l in leaves { range.append(MerkleHash.leaf(l)) }
                    precondition(range.root.count == 32)
                })
        }
    }
}
