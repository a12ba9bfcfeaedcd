import Foundation
import GRDB
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStoreSQLite
import LiaisonTesting
import Testing

@Suite("SQLite migrations")
struct SQLiteMigrationTests {
    /// A ledger written in the first layout (every subtree hash in
    /// ledger_nodes, leaves included) is moved to ledger_hashes by the
    /// migration, and keeps its root and proofs.
    @Test func theFirstLedgerLayoutIsMigrated() async throws {
        let dir = freshDirectory()
        let script = """
            import sqlite3, hashlib, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript('''
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1-ledger');
            CREATE TABLE ledger_entries (idx INTEGER PRIMARY KEY CHECK (idx >= 0), entry BLOB NOT NULL CHECK (length(entry) > 0),
                leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)) STRICT;
            CREATE TABLE ledger_nodes (level INTEGER NOT NULL CHECK (level >= 0), idx INTEGER NOT NULL CHECK (idx >= 0),
                hash BLOB NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx)) STRICT, WITHOUT ROWID;
            CREATE TABLE tree_heads (size INTEGER PRIMARY KEY CHECK (size >= 0), root BLOB NOT NULL CHECK (length(root) = 32),
                signed BLOB NOT NULL) STRICT;
            ''')
            nodes = {}
            for i in range(37):
                entry = bytes([0x30, 3, 2, 1, i])
                h = hashlib.sha256(b'\\x00' + entry).digest()
                c.execute('INSERT INTO ledger_entries VALUES (?, ?, ?)', (i, entry, h))
                level, idx = 0, i
                nodes[(0, i)] = h
                c.execute('INSERT INTO ledger_nodes VALUES (0, ?, ?)', (i, h))
                while idx & 1:
                    h = hashlib.sha256(b'\\x01' + nodes[(level, idx - 1)] + h).digest()
                    level, idx = level + 1, idx >> 1
                    nodes[(level, idx)] = h
                    c.execute('INSERT INTO ledger_nodes VALUES (?, ?, ?)', (level, idx, h))
            c.commit()
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, dir + "/node.sqlite"]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)
        let leaves = (0..<37).map { MerkleHash.leaf([0x30, 3, 2, 1, UInt8($0)]) }
        let store = try SQLiteStore(directory: dir)
        #expect(try await store.size() == 37)
        let root = try await store.root(size: 37)
        #expect(root == MerkleHash.root(leaves[...]))
        for index in [0, 20, 36] {
            let proof = try await store.inclusionProof(index: index, size: 37)
            #expect(MerkleHash.root(fromLeaf: leaves[index], index: index, size: 37, path: AuditPath(proof)) == root)
        }
        let consistency = try await store.consistencyProof(old: 16, new: 37)
        #expect(!consistency.isEmpty)
        #expect(try await store.integrityCheck() == "ok")
        // New appends extend the migrated tree.
        _ = try await store.append(LedgerStoreConformance.entries(5), sign: nil)
        #expect(try await store.root(size: 37) == root)
        let v = try await store.verify()
        #expect(v.size == 42)
        #expect(v.problems.allSatisfy { $0.contains("does not decode") }, "only the synthetic entries fail to decode: \(v)")
    }
    /// Items stored in the v2 layout (a seal path, digest, media type and
    /// payload size on every row; a leaf hash on every ledger entry) read
    /// back the same after the compacting migration, and new items and
    /// entries go on from there.
    @Test func itemsInTheSecondLayoutAreMigrated() async throws {
        let dir = freshDirectory()
        let key = StorageKey.generate()
        let items =
            NodeStoreConformance.newItems(30, tag: "v2")
            + NodeStoreConformance.newItems(3, source: .received(from: .jpn, agreement: "gsomia-kor-jpn-2016"), tag: "v2 in")
        let entries = LedgerStoreConformance.entries(items.count)
        func hex(_ b: [UInt8]) -> String { Hex.encode(b) }
        var rows: [[String: Any]] = []
        for (n, item) in items.enumerated() {
            let m = item.sealed.manifest
            var row: [String: Any] = [
                "seq": n + 1, "id": hex(m.itemID), "digest": hex(m.digest), "manifest": hex(m.derBytes), "root": hex(item.sealed.seal.root.derBytes),
                "root_digest": hex(item.sealed.seal.root.digest), "index": item.sealed.seal.index, "path": hex(item.sealed.seal.path.bytes),
                "originator": m.label.originator.code, "media": m.mediaType, "size": m.payloadSize,
                "payload": hex(key.seal(item.sealed.payload, itemID: m.itemID)), "at": Int(item.at.timeIntervalSince1970 * 1000),
            ]
            if case .received(let from, let agreement) = item.source { (row["party"], row["agreement"]) = (from.code, agreement) }
            rows.append(row)
        }
        let input: [String: Any] = ["schema": NodeSchema.sqlite, "items": rows, "entries": entries.map { hex($0.derBytes) }]
        let inputPath = dir + "/v2.json"
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: inputPath))
        let script = #"""
            import sqlite3, hashlib, sys, json
            d = json.load(open(sys.argv[2]))
            h = bytes.fromhex
            c = sqlite3.connect(sys.argv[1])
            c.execute('PRAGMA page_size = 16384')
            c.execute('PRAGMA journal_mode = WAL')
            c.executescript("""
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1-ledger'), ('v2-ledger-hashes'), ('v2-node');
            CREATE TABLE ledger_entries (idx INTEGER PRIMARY KEY CHECK (idx >= 0), entry BLOB NOT NULL CHECK (length(entry) > 0),
                leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32)) STRICT;
            CREATE TABLE tree_heads (size INTEGER PRIMARY KEY CHECK (size >= 0), root BLOB NOT NULL CHECK (length(root) = 32),
                signed BLOB NOT NULL) STRICT;
            CREATE TABLE ledger_hashes (key INTEGER PRIMARY KEY CHECK (key >= 72057594037927936),
                hash BLOB NOT NULL CHECK (length(hash) = 32)) STRICT;
            """)
            c.executescript(d['schema'])
            nodes = {}
            for i, e in enumerate(d['entries']):
                leaf = hashlib.sha256(b'\x00' + h(e)).digest()
                c.execute('INSERT INTO ledger_entries VALUES (?, ?, ?)', (i, h(e), leaf))
                level, idx, x = 0, i, leaf
                nodes[(0, i)] = x
                while idx & 1:
                    x = hashlib.sha256(b'\x01' + nodes[(level, idx - 1)] + x).digest()
                    level, idx = level + 1, idx >> 1
                    nodes[(level, idx)] = x
                    c.execute('INSERT INTO ledger_hashes VALUES (?, ?)', ((level << 56) | idx, x))
            for r in d['items']:
                c.execute('INSERT OR IGNORE INTO origin_roots (digest, root) VALUES (?, ?)', (h(r['root_digest']), h(r['root'])))
                c.execute("""INSERT INTO items (seq, id, digest, manifest, seal_root, seal_index, seal_path, originator, media_type,
                    payload_size, payload, source_party, agreement, received_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'held')""",
                    (r['seq'], h(r['id']), h(r['digest']), h(r['manifest']), h(r['root_digest']), r['index'], h(r['path']), r['originator'],
                     r['media'], r['size'], h(r['payload']), r.get('party'), r.get('agreement'), r['at']))
            c.execute("INSERT INTO holding_events (item_seq, kind, at, evidence) VALUES (2, 'compromised', 0, x'01')")
            c.execute("INSERT INTO peers (party, endpoint, fingerprint) VALUES ('JPN', 'https://jpn.example', 'sha256:00')")
            last = d['items'][-1]
            c.execute("INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state, item_id) VALUES ('JPN', 1, ?, x'01', 0, 'done', ?)",
                (h(last['digest']), h(last['id'])))
            c.execute("INSERT INTO inbox (peer, link_seq, digest, envelope, received_at, state, reason) VALUES ('JPN', 2, ?, x'02', 0, 'refused', 'Art 4')",
                (bytes(32),))
            c.execute("""INSERT INTO users (name, display_name, party, roles, categories, disabled, created_at)
                VALUES ('kim.analyst', 'Kim', 'KOR', 'analyst', 'PROJECT:EAST-SEA', 0, 0)""")
            c.commit()
            """#
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", script, dir + "/node.sqlite", inputPath]
        try python.run()
        python.waitUntilExit()
        #expect(python.terminationStatus == 0)

        let store = try SQLiteStore(directory: dir, storageKey: key)
        for item in items {
            let stored = try await store.item(item.sealed.manifest.itemID)
            #expect(stored.manifest == item.sealed.manifest)
            #expect(stored.seal == item.sealed.seal)
            #expect(stored.payload == item.sealed.payload)
            #expect(stored.holding.source == item.source)
            #expect(stored.holding.digest == item.sealed.manifest.digest)
            #expect(stored.holding.mediaType == item.sealed.manifest.mediaType)
            #expect(stored.holding.payloadSize == item.sealed.payload.count)
        }
        #expect(try await store.holdings(after: nil, limit: 100).map(\.itemID) == items.map(\.sealed.manifest.itemID))
        // The inbox keeps what it had (v4-federation): no ledger index for rows from before it.
        let inbound = try await store.inboundState(peer: .jpn, sequences: [1, 2, 3], itemIDs: [])
        #expect(inbound.records.count == 2)
        #expect(inbound.records[1]?.state == .done)
        #expect(inbound.records[1]?.itemID == items.last!.sealed.manifest.itemID)
        #expect(inbound.records[1]?.ledgerIndex == nil)
        #expect(inbound.records[2]?.reason == "Art 4")
        // Users keep what they had (v5-operators): no failed logins, not locked.
        let kim = try await store.user("kim.analyst")
        #expect(kim.roles == [.analyst] && kim.categories == ["PROJECT:EAST-SEA"])
        #expect(kim.failedLogins == 0 && kim.lockedUntil == nil)
        #expect(try await store.size() == items.count)
        #expect(try await store.integrityCheck() == "ok")
        let more = NodeStoreConformance.newItems(100, tag: "v3")
        _ = try await store.storeItems(more, ledger: LedgerWrite(LedgerStoreConformance.entries(100), sign: LedgerStoreConformance.sign()))
        #expect(try await store.item(more[99].sealed.manifest.itemID).seal == more[99].sealed.seal)
        let v = try await store.verify()
        #expect(v.size == items.count + 100)
        #expect(v.problems.isEmpty, "\(v.problems)")
    }

    /// From v9-outbox-tally on, a peer's delivered and refused tasks are
    /// tallied as they settle; a store from before starts its tallies from
    /// the tasks it already settled, so its sync status reads as before.
    @Test func theOutboxTallyStartsFromTheTasksAlreadySettled() async throws {
        let dir = freshDirectory()
        do {
            let store = try SQLiteStore(directory: dir, storageKey: .generate())
            try await store.savePeer(.jpn, endpoint: "https://jpn.example", fingerprint: "sha256:01")
            try await store.savePeer(.usa, endpoint: "https://usa.example", fingerprint: "sha256:02")
            let items = NodeStoreConformance.newItems(5, tag: "tally")
            _ = try await store.storeItems(items, ledger: .none)
            let ids = items.map(\.sealed.manifest.itemID)
            _ = try await store.enqueueOutbox(ids[0..<4].map { OutboxRequest(itemID: $0, peer: .jpn, agreement: "gsomia-kor-jpn-2016") }, at: Date(), ledger: .none)
            _ = try await store.enqueueOutbox([OutboxRequest(itemID: ids[4], peer: .usa, agreement: "gsomia-kor-usa")], at: Date(), ledger: .none)
            let jpn = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 10, now: Date(), lease: 60)
            let usa = try await store.claimOutbox(peer: .usa, owner: "a", limit: 10, now: Date(), lease: 60)
            _ = try await store.settleOutbox(
                [
                    SettledTask(id: jpn[0].id, outcome: .delivered(receipt: [1])), SettledTask(id: jpn[1].id, outcome: .delivered(receipt: [2])),
                    SettledTask(id: jpn[2].id, outcome: .refused(reason: "Art 4")),
                    SettledTask(id: jpn[3].id, outcome: .retry(error: "unreachable", notBefore: Date())),
                    SettledTask(id: usa[0].id, outcome: .delivered(receipt: [3])),
                ], owner: "a", at: Date(), ledger: .none)
            #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 2, .refused: 1, .pending: 1])
            #expect(try await store.outboxSummary(peer: .usa).counts == [.done: 1])
        }
        // The layout before the tally.
        do {
            let db = try DatabaseQueue(path: dir + "/node.sqlite")
            try await db.write { db in
                try db.execute(
                    sql: """
                        ALTER TABLE peers DROP COLUMN outbox_done;
                        ALTER TABLE peers DROP COLUMN outbox_refused;
                        DELETE FROM grdb_migrations WHERE identifier = 'v9-outbox-tally';
                        """)
            }
            try db.close()
        }
        let store = try SQLiteStore(directory: dir)
        #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 2, .refused: 1, .pending: 1])
        #expect(try await store.outboxSummary(peer: .usa).counts == [.done: 1])
        // And the tally goes on from there.
        let again = try await store.claimOutbox(peer: .jpn, owner: "b", limit: 10, now: Date().addingTimeInterval(1), lease: 60)
        _ = try await store.settleOutbox(again[0].id, owner: "b", .delivered(receipt: [4]), at: Date(), ledger: .none)
        #expect(try await store.outboxSummary(peer: .jpn).counts == [.done: 3, .refused: 1])
        #expect(try await store.integrityCheck() == "ok")
    }

    /// A store from before the index of tasks with an error gets it on
    /// opening, and its sync status names the same latest error as before.
    @Test func theIndexOfTasksWithAnErrorIsBuiltOnOpening() async throws {
        let dir = freshDirectory()
        let items = NodeStoreConformance.newItems(3)
        do {
            let store = try SQLiteStore(directory: dir, storageKey: .generate())
            _ = try await store.storeItems(items, ledger: .none)
            try await store.savePeer(.jpn, endpoint: "https://jpn.example:8443", fingerprint: "sha256:00")
            _ = try await store.enqueueOutbox(items.map { OutboxRequest(itemID: $0.sealed.manifest.itemID, peer: .jpn, agreement: "a") }, at: Date(), ledger: .none)
            let claimed = try await store.claimOutbox(peer: .jpn, owner: "a", limit: 10, now: Date(), lease: 60)
            _ = try await store.settleOutbox(
                [
                    SettledTask(id: claimed[0].id, outcome: .refused(reason: "Art 4")),
                    SettledTask(id: claimed[1].id, outcome: .retry(error: "unreachable", notBefore: Date())),
                    SettledTask(id: claimed[2].id, outcome: .delivered(receipt: [1])),
                ], owner: "a", at: Date(), ledger: .none)
            #expect(try await store.outboxSummary(peer: .jpn).lastError == "unreachable")
        }
        // The layout before the index.
        do {
            let db = try DatabaseQueue(path: dir + "/node.sqlite")
            try await db.write { db in
                try db.execute(sql: "DROP INDEX outbox_errors; DELETE FROM grdb_migrations WHERE identifier = 'v10-outbox-errors';")
            }
            try db.close()
        }
        let store = try SQLiteStore(directory: dir)
        #expect(try await store.outboxSummary(peer: .jpn).lastError == "unreachable")
        #expect(try await store.integrityCheck() == "ok")
        let db = try DatabaseQueue(path: dir + "/node.sqlite")
        #expect(try await db.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'outbox_errors'") }?.contains("WHERE last_error IS NOT NULL") == true)
        try db.close()
    }
}
