import Foundation
import GRDB
import LiaisonModel
import LiaisonSealing
import LiaisonStore
@testable import LiaisonStoreSQLite
import LiaisonTesting
import Testing

/// A fresh directory under the temporary folder for each store.
func freshDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("liaison-store-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a Python snippet on the store's database file behind the store's
/// back (`c` is the connection; it commits), as an intruder or a damaged
/// disk would change it; returns the snippet's exit status.
func alterDatabase(in dir: String, _ python: String) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); " + python + "; c.commit()", dir + "/node.sqlite"]
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test func passesTheConformanceSuite() async throws {
        try await LedgerStoreConformance.run { try SQLiteStore(directory: freshDirectory()) }
    }

    @Test func passesTheNodeConformanceSuite() async throws {
        try await NodeStoreConformance.run { try SQLiteStore(directory: freshDirectory(), storageKey: .generate()) }
    }

    /// Payloads are sealed under the node's storage key: the database files
    /// never hold them in clear, and another key cannot open them.
    @Test func payloadsAreEncryptedAtRest() async throws {
        let dir = freshDirectory()
        let key = StorageKey.generate()
        let items = NodeStoreConformance.newItems(20, tag: "secret-at-rest")
        do {
            let store = try SQLiteStore(directory: dir, storageKey: key)
            _ = try await store.storeItems(items, ledger: .none)
        }
        let marker = Data("PLAINTEXT-MARKER secret-at-rest".utf8)
        for file in ["node.sqlite", "node.sqlite-wal"] {
            if let bytes = FileManager.default.contents(atPath: dir + "/" + file) {
                #expect(bytes.range(of: marker) == nil, "\(file) holds a payload in clear")
            }
        }
        let reopened = try SQLiteStore(directory: dir, storageKey: key)
        #expect(try await reopened.item(items[3].sealed.manifest.itemID).payload == items[3].sealed.payload)
    }

    @Test func anotherStorageKeyCannotOpenPayloads() async throws {
        let dir = freshDirectory()
        let items = NodeStoreConformance.newItems(1)
        do {
            let store = try SQLiteStore(directory: dir, storageKey: .generate())
            _ = try await store.storeItems(items, ledger: .none)
        }
        let store = try SQLiteStore(directory: dir, storageKey: .generate())
        await #expect(throws: StoreError(.corrupt, "")) { _ = try await store.item(items[0].sealed.manifest.itemID) }
        let keyless = try SQLiteStore(directory: freshDirectory())
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await keyless.storeItems(items, ledger: .none) }
    }

    /// A full checkpoint empties the WAL into the database file; nothing is
    /// lost, and the store goes on appending.
    @Test func aCheckpointEmptiesTheWAL() async throws {
        let dir = freshDirectory()
        let store = try SQLiteStore(directory: dir, storageKey: .generate())
        let items = NodeStoreConformance.newItems(300)
        _ = try await store.storeItems(items, ledger: LedgerWrite(LedgerStoreConformance.entries(300), sign: LedgerStoreConformance.sign()))
        try await store.checkpoint()
        let wal = try FileManager.default.attributesOfItem(atPath: dir + "/node.sqlite-wal")[.size] as? Int
        #expect(wal == 0)
        #expect(try await store.item(items[299].sealed.manifest.itemID).payload == items[299].sealed.payload)
        _ = try await store.append(LedgerStoreConformance.entries(5, from: 300), sign: LedgerStoreConformance.sign())
        let v = try await store.verify()
        #expect(v.isIntact && v.size == 305, "\(v)")
    }

    @Test func commitsAreDurableBeforeTheyAreAcknowledged() async throws {
        let store = try SQLiteStore(directory: freshDirectory())
        // WAL with synchronous=FULL, read back from the connection in use.
        #expect(try await store.synchronousLevel() == 2)
        #expect(try await store.integrityCheck() == "ok")
    }

    /// Transient data (the savepoint sub-journal of every group-commit
    /// writer, sorts) stays in memory on the writer and on every reader:
    /// on disk SQLite created, wrote and deleted a file in /var/tmp for
    /// nearly every write of a few pages.
    @Test func keepsTransientDataInMemory() async throws {
        let store = try SQLiteStore(directory: freshDirectory(), storageKey: .generate())
        @Sendable func tempStore(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "PRAGMA temp_store") ?? -1 }
        #expect(try store.onWriter(tempStore) == 2)
        #expect(try await store.run(tempStore) == 2)
        // A write of more pages than the sub-journal's spill threshold still works inside a savepoint.
        let items = NodeStoreConformance.newItems(40)
        _ = try await store.storeItems(items, ledger: .none)
        #expect(try await store.integrityCheck() == "ok")
    }

    /// A read runs on a read-only connection in a transaction of its own:
    /// it cannot write, and a read that fails leaves its reader usable.
    @Test func aReadCannotWrite() async throws {
        let store = try SQLiteStore(directory: freshDirectory(), storageKey: .generate())
        _ = try await store.storeItems(NodeStoreConformance.newItems(3), ledger: .none)
        for sql in ["DELETE FROM items", "CREATE TABLE intruder (a)", "UPDATE peers SET alarm = 'x'"] {
            await #expect(throws: StoreError.self) { try await store.run { db in try db.execute(sql: sql) } }
        }
        for _ in 0..<8 {
            #expect(try await store.holdings(after: nil, limit: 10).count == 3)
        }
        #expect(try await store.integrityCheck() == "ok")
    }

    /// Only a claim of queued work commits without a sync (a lost claim
    /// returns its tasks to the queue); a group that holds any other write
    /// is synced, and the writer is back at FULL after every group, even
    /// one that failed.
    @Test func onlyClaimsCommitUnsyncedAndEveryOtherWriteIsSynced() async throws {
        let store = try SQLiteStore(directory: freshDirectory(), storageKey: .generate())
        @Sendable func level(_ db: Database) throws -> Int { try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        #expect(try await store.write(durable: false, level) == 1)
        #expect(try await store.synchronousLevel() == 2)
        #expect(try await store.write(level) == 2)
        // A claim that waits behind a durable write shares the next group with another durable write.
        async let first = store.write { db in
            Thread.sleep(forTimeInterval: 0.3)
            return try level(db)
        }
        try await Task.sleep(nanoseconds: 50_000_000)
        async let claim = store.write(durable: false, level)
        async let other = store.write(level)
        #expect(try await [first, claim, other] == [2, 2, 2])
        // An unsynced group in which a writer's work failed (rolled back alone) leaves the writer at FULL.
        await #expect(throws: StoreError.self) {
            _ = try await store.write(durable: false) { db -> Int in throw StoreError(.invalidInput, "refused") }
        }
        #expect(try await store.synchronousLevel() == 2)
        // The claims themselves go through it and are kept.
        try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
        let items = NodeStoreConformance.newItems(2)
        _ = try await store.storeItems(items, ledger: .none)
        _ = try await store.enqueueOutbox(items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .jpn, agreement: "a") }, at: Date(), ledger: .none)
        #expect(try await store.claimOutbox(peer: .jpn, owner: "me", limit: 5, now: Date(), lease: 60).count == 2)
        #expect(try await store.claimOutbox(peer: .jpn, owner: "other", limit: 5, now: Date(), lease: 60).isEmpty)
        #expect(try await store.synchronousLevel() == 2)
    }

    /// A claim walks the queue's index from its first due task and stops at
    /// its limit: it neither reads the tasks already done nor sorts all the
    /// pending ones, so its cost does not grow with the queue's history.
    @Test func aClaimReadsTheDueTasksThroughTheIndex() async throws {
        let store = try SQLiteStore(directory: freshDirectory())
        for table in ["outbox", "statement_outbox"] {
            let plan = try await store.write { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.claimSQL(table, "id"), arguments: ["o", 1, "JPN", 1, 10, "JPN", 1, 10, 10])
                    .map { $0["detail"] as String }
            }
            #expect(plan.contains { $0.contains("INDEX \(table)_due (peer=? AND state=? AND not_before<?)") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN \(table)") }, "\(plan)")
        }
    }

    /// A peer's sync status, read every second, does not read every task
    /// waiting: the oldest is the first entry of each state's part of the
    /// queue's index, the latest error the newest entry of the index of
    /// tasks with an error. (Counting the waiting tasks still walks them.)
    @Test func theSyncStatusReadsTheQueueThroughItsIndexes() async throws {
        let store = try SQLiteStore(directory: freshDirectory())
        let (oldest, lastError) = try await store.write { db in
            (
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.oldestWaitingSQL, arguments: ["JPN", "JPN"]).map { $0["detail"] as String },
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + SQLiteStore.lastErrorSQL, arguments: ["JPN"]).map { $0["detail"] as String }
            )
        }
        #expect(oldest.filter { $0.contains("USING COVERING INDEX outbox_due (peer=? AND state=?)") }.count == 2, "\(oldest)")
        #expect(!oldest.contains { $0.hasPrefix("SCAN outbox") }, "\(oldest)")
        // The query names its index (INDEXED BY); read from its newest end, no sort.
        #expect(!lastError.contains { $0.contains("TEMP B-TREE") }, "\(lastError)")
    }

    /// A node killed mid-batch leaves claims behind; the next process to
    /// open the directory (holding its lock, so no other can own a claim)
    /// finds those tasks due at once, not when their leases run out.
    @Test func claimsOfAnEarlierProcessAreReleasedOnOpening() async throws {
        let dir = freshDirectory()
        let items = NodeStoreConformance.newItems(3)
        let ids = items.map(\.sealed.manifest.itemID)
        let t0 = Date()
        do {
            let store = try SQLiteStore(directory: dir, storageKey: .generate())
            _ = try await store.storeItems(items, ledger: .none)
            try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
            _ = try await store.enqueueOutbox(ids.map { OutboxRequest(itemID: $0, peer: .jpn, agreement: "a") }, at: t0, ledger: .none)
            _ = try await store.enqueueStatements([StatementRequest(peer: .jpn, kind: 2, signed: [1, 2, 3])], at: t0, ledger: .none)
            #expect(try await store.claimOutbox(peer: .jpn, owner: "killed", limit: 2, now: t0, lease: 3600).count == 2)
            #expect(try await store.claimStatements(peer: .jpn, owner: "killed", limit: 5, now: t0, lease: 3600).count == 1)
            // While this process runs, its claims hold.
            #expect(try await store.claimOutbox(peer: .jpn, owner: "other", limit: 5, now: t0, lease: 60).map(\.linkSequence) == [3])
        }
        let reopened = try SQLiteStore(directory: dir)
        let again = try await reopened.claimOutbox(peer: .jpn, owner: "next", limit: 5, now: t0.addingTimeInterval(1), lease: 60)
        #expect(again.map(\.linkSequence) == [1, 2, 3])
        #expect(try await reopened.claimStatements(peer: .jpn, owner: "next", limit: 5, now: t0.addingTimeInterval(1), lease: 60).count == 1)
    }

    @Test func theDirectoryIsLockedAgainstASecondOpener() async throws {
        let dir = freshDirectory()
        var first: SQLiteStore? = try SQLiteStore(directory: dir)
        #expect(throws: StoreError(.locked, "")) { _ = try SQLiteStore(directory: dir) }
        _ = try await first!.append(LedgerStoreConformance.entries(3), sign: LedgerStoreConformance.sign())
        first = nil
        // Released on close; the data is still there.
        let second = try SQLiteStore(directory: dir)
        #expect(try await second.size() == 3)
        #expect(try await second.verify().isIntact)
    }

    /// A process the node starts (a tool, a test's database server) does
    /// not inherit the lock and keep the directory locked after the node closes it.
    @Test func theLockIsNotInheritedByChildProcesses() async throws {
        let dir = freshDirectory()
        var store: SQLiteStore? = try SQLiteStore(directory: dir)
        // posix_spawn keeps every descriptor not marked close-on-exec.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("3"), nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        _ = try await store!.size()
        store = nil
        #expect(throws: Never.self) { _ = try SQLiteStore(directory: dir) }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    @Test func tamperingWithTheFileIsDetected() async throws {
        let dir = freshDirectory()
        do {
            let store = try SQLiteStore(directory: dir)
            _ = try await store.append(LedgerStoreConformance.entries(20), sign: LedgerStoreConformance.sign())
        }
        // Rewrite one entry's bytes behind the store's back (as a node hiding history would).
        #expect(try alterDatabase(in: dir, "c.execute(\"UPDATE ledger_entries SET entry = x'300301020a' WHERE idx = 7\")") == 0)
        let store = try SQLiteStore(directory: dir)
        let v = try await store.verify()
        #expect(!v.isIntact)
        #expect(v.problems.contains { $0.contains("entries 0–7: the stored subtree hash differs") }, "\(v.problems)")
    }

    /// A seal tree damaged at rest is reported as corrupt when an item under
    /// it is read, never returned as a seal that does not bind the item.
    @Test func aDamagedSealTreeIsReported() async throws {
        let dir = freshDirectory()
        let key = StorageKey.generate()
        let items = NodeStoreConformance.newItems(100, tag: "tree")
        do {
            let store = try SQLiteStore(directory: dir, storageKey: key)
            _ = try await store.storeItems(items, ledger: .none)
        }
        let flip = "t=bytearray(c.execute('SELECT tree FROM seal_trees').fetchone()[0]); t[40]^=1; c.execute('UPDATE seal_trees SET tree=?', (bytes(t),))"
        #expect(try alterDatabase(in: dir, flip) == 0)
        let store = try SQLiteStore(directory: dir, storageKey: key)
        // Leaf 1's hash (bytes 32–63) is on item 0's path, not on item 2's.
        await #expect(throws: StoreError(.corrupt, "")) { _ = try await store.item(items[0].sealed.manifest.itemID) }
        #expect(try await store.item(items[2].sealed.manifest.itemID).seal == items[2].sealed.seal)
    }

    /// A sender reads a whole origin batch at once, its tree computed once
    /// instead of every item's path: the same seals, payloads and refusal
    /// of a damaged path as item by item, naming the item.
    @Test func aWholeOriginBatchReadAtOnceIsCheckedAsItemByItem() async throws {
        let dir = freshDirectory()
        let key = StorageKey.generate()
        let items = NodeStoreConformance.newItems(100, tag: "whole")
        let ids = items.map(\.sealed.manifest.itemID)
        do {
            let store = try SQLiteStore(directory: dir, storageKey: key)
            _ = try await store.storeItems(items, ledger: .none)
            let read = try await store.items(ids)
            #expect(read.map(\.seal) == items.map(\.sealed.seal))
            #expect(read.map(\.payload) == items.map(\.sealed.payload))
            #expect(read.map(\.manifest.encoded) == items.map(\.sealed.manifest.encoded), "the manifests' encodings are kept as stored")
        }
        let flip = "t=bytearray(c.execute('SELECT tree FROM seal_trees').fetchone()[0]); t[40]^=1; c.execute('UPDATE seal_trees SET tree=?', (bytes(t),))"
        #expect(try alterDatabase(in: dir, flip) == 0)
        let store = try SQLiteStore(directory: dir, storageKey: key)
        // Leaf 1's hash is on item 0's path only: the whole batch is refused, naming item 0.
        do {
            _ = try await store.items(ids)
            Issue.record("a damaged seal path was read as good")
        } catch {
            #expect(error.code == .corrupt)
            #expect(error.reason.contains(Hex.encode(ids[0])), "\(error.reason)")
        }
        // Without item 0 (not a whole batch: each path on its own), the rest read as before.
        #expect(try await store.items(Array(ids.dropFirst())).map(\.seal) == items.dropFirst().map(\.sealed.seal))
        // With two items damaged in different ways, the error is about the first of them in the order asked for.
        let item3 = Hex.encode(ids[3])
        let alter = "p=bytearray(c.execute('SELECT payload FROM items WHERE id = ?', (bytes.fromhex('\(item3)'),)).fetchone()[0]); p[-1]^=1; c.execute('UPDATE items SET payload=? WHERE id = ?', (bytes(p), bytes.fromhex('\(item3)')))"
        #expect(try alterDatabase(in: dir, alter) == 0)
        for (order, named) in [(ids, ids[0]), ([ids[3], ids[0]], ids[3]), (Array(ids[1...]), ids[3])] {
            do {
                _ = try await store.items(order)
                Issue.record("a damaged item was read as good")
            } catch {
                #expect(error.code == .corrupt)
                #expect(error.reason.contains(Hex.encode(named)), "\(error.reason)")
            }
        }
        #expect(try await store.items(Array(ids[4...])).map(\.payload) == items[4...].map(\.sealed.payload))
    }

    /// A stored subtree hash rewritten (the entries left alone) is found
    /// by the fsck, which compares every stored hash with its entries'.
    @Test func aRewrittenSubtreeHashIsDetected() async throws {
        let dir = freshDirectory()
        do {
            let store = try SQLiteStore(directory: dir)
            _ = try await store.append(LedgerStoreConformance.entries(20), sign: LedgerStoreConformance.sign())
        }
        let key = 3 << 56 | 1  // level 3, index 1: entries 8–15
        #expect(try alterDatabase(in: dir, "n=c.execute('UPDATE ledger_hashes SET hash = zeroblob(32) WHERE key = \(key)').rowcount; c.commit(); sys.exit(0 if n == 1 else 3)") == 0)
        let store = try SQLiteStore(directory: dir)
        let v = try await store.verify()
        #expect(!v.isIntact)
        #expect(v.problems.contains { $0.contains("entries 8–15: the stored subtree hash differs") }, "\(v.problems)")
    }
}
