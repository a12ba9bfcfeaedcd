import Foundation
import LiaisonApp
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonStoreSQLite
import LiaisonTesting
import Testing

@Suite("liaison ledger verify and proof")
struct LedgerCommandTests {
    /// A node directory whose ledger holds `n` entries in batches of 5, each
    /// batch with a tree head signed by `signer` (the node's key by default).
    func node(entries n: Int, signer: SigningKey? = nil) async throws -> (TempDir, String) {
        let dir = TempDir()
        let path = dir.path + "/kor"
        let node = NodeDirectory(path: path)
        _ = try node.initialize(party: .kor, suite: .classic, hosts: ["localhost"], now: Date())
        let key = try signer ?? node.load().signing
        let store = try SQLiteStore(directory: path)
        for start in stride(from: 0, to: n, by: 5) {
            _ = try await store.append(LedgerStoreConformance.entries(5, from: start)) { size, root in
                try Signed(signing: TreeHead(party: .kor, size: size, root: root, at: Date()), with: key)
            }
        }
        return (dir, path)
    }

    @Test func verifyChecksEveryTreeHeadAndItsSignature() async throws {
        let (dir, path) = try await node(entries: 20)
        _ = dir
        let out = await Commands.verifyLedger(dir: path)
        #expect(out.exitCode == 0, "\(out.stderr)")
        #expect(out.stdout.joined().contains("4 signed tree heads match (latest at 20)"))
        #expect(out.stdout.joined().contains("every tree-head signature verifies"))
    }

    @Test func aTreeHeadSignedByAnotherKeyIsReported() async throws {
        let (dir, path) = try await node(entries: 10, signer: try SigningKey.generate(.classic))
        _ = dir
        let out = await Commands.verifyLedger(dir: path)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("first inconsistency: the signature of the tree head at size 5 does not verify"), "\(out.stderr)")
    }

    @Test func treeHeadsSignedBeforeARotationStillVerify() async throws {
        let (dir, path) = try await node(entries: 10)
        _ = dir
        _ = try NodeDirectory(path: path).rotate(overlapDays: 7, now: Date())
        let out = await Commands.verifyLedger(dir: path)
        #expect(out.exitCode == 0, "\(out.stderr)")
    }

    @Test func anOldTreeHeadThatNoLongerMatchesIsReported() async throws {
        let (dir, path) = try await node(entries: 15)
        _ = dir
        // Rewrite the root of the tree head at size 10, keeping its signature bytes' shape.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); s=c.execute('SELECT signed FROM tree_heads WHERE size=5').fetchone()[0]; c.execute('UPDATE tree_heads SET signed=? WHERE size=10', (s,)); c.commit()",
            path + "/node.sqlite",
        ]
        try sqlite.run()
        sqlite.waitUntilExit()
        let out = await Commands.verifyLedger(dir: path)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("the signed tree head stored at size 10 names size 5"), "\(out.stderr)")
    }

    @Test func proofPrintsAVerifiedInclusionAndConsistencyProof() async throws {
        let (dir, path) = try await node(entries: 20)
        _ = dir
        let out = await Commands.ledgerProof(dir: path, index: 7, size: nil, old: 13, json: false)
        #expect(out.exitCode == 0, "\(out.stderr)")
        let text = out.stdout.joined(separator: "\n")
        #expect(text.contains("entry 7 of 20"))
        #expect(text.contains("signed tree head at 20"))
        #expect(text.contains("inclusion proof (5 hashes"))
        #expect(text.contains("consistency proof 13 → 20"))
        #expect(text.contains("verified"))

        let json = await Commands.ledgerProof(dir: path, index: 7, size: 12, old: nil, json: true)
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.joined().utf8)) as? [String: Any]
        #expect(object?["tree_size"] as? Int == 12)
        let proof = (object?["inclusion_path"] as? [String])?.map { Hex.decode($0)! }
        let root = Hex.decode(object?["root"] as? String ?? "")!
        let leaf = Hex.decode(object?["leaf_hash"] as? String ?? "")!
        #expect(MerkleHash.root(fromLeaf: leaf, index: 7, size: 12, path: AuditPath(proof ?? [])) == root)
        #expect(object?["signed_tree_head"] == nil, "no tree head was signed at 12")
    }

    @Test(arguments: [(20, nil as Int?), (3, 3), (-1, nil), (3, 21)])
    func proofRefusesWhatIsNotThere(entry: Int, size: Int?) async throws {
        let (dir, path) = try await node(entries: 20)
        _ = dir
        let out = await Commands.ledgerProof(dir: path, index: entry, size: size, old: nil, json: false)
        #expect(out.exitCode == 1)
        #expect(out.stdout.isEmpty)
        #expect(!out.stderr.isEmpty)
    }

    @Test func verifyOfAMissingLedgerSaysSoAndCreatesNothing() async throws {
        let dir = TempDir()
        let out = await Commands.verifyLedger(dir: dir.path + "/nowhere")
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("holds no ledger"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/nowhere"))
    }

    @Test func proofOfAMissingLedgerSaysSo() async throws {
        let dir = TempDir()
        let out = await Commands.ledgerProof(dir: dir.path + "/nowhere", index: 0, size: nil, old: nil, json: false)
        #expect(out.exitCode == 1)
        #expect(out.stderr.joined().contains("holds no ledger"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/nowhere"), "a proof request creates nothing")
    }
}
