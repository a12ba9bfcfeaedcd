import Foundation
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
}
