import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStorePostgres
import LiaisonTesting
import Logging
import PostgresNIO
import Testing

/// A store on a fresh database of the test server.
func postgresStore(database: PostgresLocation? = nil, storageKey: StorageKey? = nil) async throws -> PostgresStore {
    try await TestPostgres.store(database, storageKey: storageKey)
}

@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test func passesTheConformanceSuite() async throws {
        try await LedgerStoreConformance.run { try await postgresStore() }
    }

    @Test(arguments: ["http://u@h/db", "postgres://h/db", "postgres://u@/db", "postgres://u@h", "postgres://u@h/"])
    func malformedServerURLsAreRefused(url: String) {
        #expect(throws: StoreError(.invalidInput, "")) { _ = try PostgresLocation(url: url) }
    }

    @Test func serverURLsAreParsed() throws {
        let l = try PostgresLocation(url: "postgres://liaison:s3cret@db.kor.example:6543/node_kor")
        #expect(l == PostgresLocation(host: "db.kor.example", port: 6543, user: "liaison", password: "s3cret", database: "node_kor"))
        #expect(try PostgresLocation(url: "postgresql://u@h/d").port == 5432)
    }

    @Test func passesTheNodeConformanceSuite() async throws {
        try await NodeStoreConformance.run { try await postgresStore(storageKey: .generate()) }
    }

    /// PostgreSQL checks every index of the node's schema against its table
    /// (what the crash test runs after each kill).
    @Test func theIntegrityCheckCoversEveryIndex() async throws {
        let store = try await postgresStore(storageKey: .generate())
        let items = NodeStoreConformance.newItems(50)
        _ = try await store.storeItems(items, ledger: LedgerWrite(LedgerStoreConformance.entries(50), sign: LedgerStoreConformance.sign()))
        #expect(try await store.integrityCheck() == "ok")
    }

    /// A database from before v9-outbox-tally starts each peer's tallies
    /// from the tasks it already settled, and they go on from there.
    @Test func theOutboxTallyStartsFromTheTasksAlreadySettled() async throws {
        let location = try await TestPostgres.newDatabase()
        let key = StorageKey.generate()
        let t0 = NodeStoreConformance.t0
        do {
            let store = try await postgresStore(database: location, storageKey: key)
            try await store.savePeer(.jpn, endpoint: "https://jpn.example", fingerprint: "sha256:01")
            let items = NodeStoreConformance.newItems(3, tag: "tally")
            _ = try await store.storeItems(items, ledger: .none)
            _ = try await store.enqueueOutbox(
                items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .jpn, agreement: "gsomia-kor-jpn-2016") }, at: t0, ledger: .none)
            let claimed = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 10, now: t0, lease: 60)
            _ = try await store.settleOutbox(
                [SettledTask(id: claimed[0].id, outcome: .delivered(receipt: [1])), SettledTask(id: claimed[1].id, outcome: .refused(reason: "Art 4"))],
                owner: "a", at: t0, ledger: .none)
            #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 1, .refused: 1, .claimed: 1])
        }
        // The layout before the tally.
        var logger = Logger(label: "liaison-test")
        logger.logLevel = .error
        let client = PostgresClient(configuration: location.configuration())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            for statement in [
                "ALTER TABLE peers DROP COLUMN outbox_done", "ALTER TABLE peers DROP COLUMN outbox_refused",
                "DELETE FROM schema_migrations WHERE version = 'v9-outbox-tally'",
            ] {
                _ = try await client.query(PostgresQuery(unsafeSQL: statement), logger: logger).collect()
            }
            group.cancelAll()
        }
        let store = try await postgresStore(database: location, storageKey: key)
        #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 1, .refused: 1, .claimed: 1])
        let held = try #require(try await store.outboxTasks(itemID: nil, before: nil, limit: 10).first { $0.state == .claimed })
        _ = try await store.settleOutbox(held.id, owner: "a", .delivered(receipt: [2]), at: t0, ledger: .none)
        #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 2, .refused: 1])
    }

    /// Two replicas of one node claim from one queue in one database: no
    /// task is claimed twice (FOR UPDATE SKIP LOCKED).
    @Test func twoReplicasClaimOneQueue() async throws {
        let name = try await TestPostgres.newDatabase()
        let key = StorageKey.generate()
        let a = try await postgresStore(database: name, storageKey: key), b = try await postgresStore(database: name, storageKey: key)
        let items = NodeStoreConformance.newItems(200)
        _ = try await a.storeItems(items, ledger: .none)
        try await a.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
        _ = try await b.enqueueOutbox(
            items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .jpn, agreement: "gsomia-kor-jpn-2016") }, at: NodeStoreConformance.t0, ledger: .none)
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (owner, store) in [("replica-a", a), ("replica-b", b)] {
                group.addTask {
                    var mine: [Int64] = []
                    while true {
                        let batch = try await store.claimOutbox(peer: .jpn, owner: owner, limit: 5, now: NodeStoreConformance.t0, lease: 60)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                    }
                }
            }
            var all: [[Int64]] = []
            for try await part in group { all.append(part) }
            return all
        }
        #expect(claimed.flatMap { $0 }.count == 200)
        #expect(Set(claimed.flatMap { $0 }).count == 200, "a task was claimed twice")
        #expect(claimed.allSatisfy { !$0.isEmpty }, "both replicas took part")
    }

    /// Two replicas of one node share the database: the advisory lock
    /// makes one sequencer at a time, and the ledger stays one log.
    @Test func twoReplicasSequenceOneLedger() async throws {
        let name = try await TestPostgres.newDatabase()
        let a = try await postgresStore(database: name), b = try await postgresStore(database: name)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (replica, store) in [(0, a), (1, b)] {
                group.addTask {
                    for round in 0..<20 {
                        _ = try await store.append(LedgerStoreConformance.entries(3, detail: "r\(replica) \(round) "), sign: LedgerStoreConformance.sign())
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await a.size() == 120)
        let v = try await b.verify()
        #expect(v.isIntact && v.treeHeadSize == 120, "\(v)")
        #expect(try await a.root(size: 120) == (try await b.root(size: 120)))
    }

    /// A reader pages through the holdings by sequence number while two
    /// replicas store items from six writers at once. Item inserts take the
    /// sequencer, so items commit in sequence order and the reader never
    /// steps past one that commits after a later one: nothing is skipped.
    @Test func pagingHoldingsSkipsNothingWhileReplicasWrite() async throws {
        let name = try await TestPostgres.newDatabase()
        let key = StorageKey.generate()
        let stores = [try await postgresStore(database: name, storageKey: key), try await postgresStore(database: name, storageKey: key)]
        let writers = 6, perWriter = 40
        let items = (0..<writers).map { NodeStoreConformance.newItems(perWriter, tag: "writer \($0)") }
        final class Done: @unchecked Sendable {
            // @unchecked: `value` is guarded by `lock`.
            private let lock = NSLock()
            private var value = false
            var isSet: Bool { lock.withLock { value } }
            func set() { lock.withLock { value = true } }
        }
        let done = Done()
        let writing = Task {
            defer { done.set() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for w in 0..<writers {
                    group.addTask { for item in items[w] { _ = try await stores[w % 2].storeItems([item], ledger: .none) } }
                }
                try await group.waitForAll()
            }
        }
        var seen: [[UInt8]] = [], cursor: Int64?, pages = 0
        func page() async throws -> Bool {
            let page = try await stores[1].holdings(after: cursor, limit: 1000)
            seen += page.map(\.itemID)
            cursor = page.last?.sequence ?? cursor
            pages += 1
            return !page.isEmpty
        }
        while !done.isSet { _ = try await page() }
        try await writing.value
        while try await page() {}
        #expect(pages > 10, "the reader paged while the writers wrote")
        #expect(seen.count == writers * perWriter, "the reader saw \(seen.count) of \(writers * perWriter) items")
        let missing = Set(items.joined().map(\.sealed.manifest.itemID)).subtracting(seen)
        #expect(missing.isEmpty, "\(missing.count) items were skipped by the reader")
    }
}
