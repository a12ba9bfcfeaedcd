public import LiaisonModel
internal import Foundation
public import LiaisonSealing
import LiaisonLedger
public import LiaisonStore
import Testing

/// The conformance suite every ledger back end passes (as Trillian's
/// `storage/testonly`): operations against an independent computation,
/// tree heads, bad input leaving no partial state, concurrent writers.
/// Each check takes a fresh, empty store.
public enum LedgerStoreConformance {
    public typealias Factory = @Sendable () async throws -> any LedgerStore

    static let signer = try! SigningKey.generate(.hybridPQ)

    public static func entries(_ n: Int, from start: Int = 0, detail: String = "") -> [LedgerEntry] {
        (start..<(start + n)).map { i in
            LedgerEntry(
                kind: LedgerEntry.Kind.allCases[i % LedgerEntry.Kind.allCases.count],
                at: Date(timeIntervalSince1970: 1_574_560_800 + Double(i)), party: i % 3 == 0 ? .jpn : nil,
                subjects: [Array(MerkleHash.leaf(Array("item \(i)".utf8)))], detail: "\(detail)entry \(i)")
        }
    }

    public static func sign(party: Party = .kor) -> TreeHeadSigner {
        { size, root in
            try Signed(signing: TreeHead(party: party, size: size, root: root, at: Date(timeIntervalSince1970: 1_574_560_800)), with: signer)
        }
    }

    /// Runs every check.
    public static func run(_ make: Factory) async throws {
        try await emptyStore(make())
        try await appendsAndProofs(make())
        try await treeHeads(make())
        try await badInputChangesNothing(make())
        try await concurrentWriters(make())
        try await checkpoints(make())
    }

    /// Entries appended without a signature are covered by the next
    /// checkpoint; a checkpoint at a size already signed signs nothing new.
    public static func checkpoints(_ store: any LedgerStore) async throws {
        #expect(try await store.signTreeHead(sign()) == nil)
        _ = try await store.append(entries(3), sign: sign())
        _ = try await store.append(entries(2, from: 3), sign: nil)
        #expect(try await store.latestTreeHead()?.body.size == 3)
        let head = try #require(try await store.signTreeHead(sign()))
        #expect(head.body.size == 5)
        #expect(head.body.root == (try await store.root(size: 5)))
        #expect(try await store.latestTreeHead() == head)
        #expect(try await store.signTreeHead(sign()) == head)
        #expect(try await store.verify().isIntact)
        // Each head is kept at its size; a size never signed has none.
        #expect(try await store.treeHead(size: 3)?.body.size == 3)
        #expect(try await store.treeHead(size: 3)?.body.root == (try await store.root(size: 3)))
        #expect(try await store.treeHead(size: 5) == head)
        #expect(try await store.treeHead(size: 4) == nil)
        #expect(try await store.treeHead(size: 99) == nil)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.treeHead(size: -1) }
    }

    public static func emptyStore(_ store: any LedgerStore) async throws {
        #expect(try await store.size() == 0)
        #expect(try await store.root(size: 0) == MerkleHash.empty)
        #expect(try await store.latestTreeHead() == nil)
        #expect(try await store.verify().isIntact)
    }

    public static func appendsAndProofs(_ store: any LedgerStore) async throws {
        var all: [LedgerEntry] = []
        for batch in [1, 1, 2, 5, 8, 13, 64, 100, 7] {
            let new = entries(batch, from: all.count)
            let range = try await store.append(new, sign: nil)
            #expect(range == all.count..<(all.count + batch))
            all += new
        }
        let leaves = all.map(\.leafHash)
        for size in [1, 2, 3, 8, 9, 100, all.count] {
            let root = try await store.root(size: size)
            #expect(root == MerkleHash.root(leaves[..<size]), "root at \(size)")
            for index in Set([0, size / 2, size - 1]) {
                let proof = try await store.inclusionProof(index: index, size: size)
                #expect(MerkleHash.root(fromLeaf: leaves[index], index: index, size: size, path: AuditPath(proof)) == root)
            }
        }
        for (old, new) in [(1, 2), (3, 8), (8, 9), (100, all.count), (all.count, all.count)] {
            let proof = try await store.consistencyProof(old: old, new: new)
            let oldRoot = try await store.root(size: old), newRoot = try await store.root(size: new)
            #expect(MerkleLog.verifyConsistency(old: old, new: new, oldRoot: oldRoot, newRoot: newRoot, proof: proof))
        }
        #expect(try await store.entry(at: 42) == all[42])
        #expect(try await store.verify().isIntact)
    }

    public static func treeHeads(_ store: any LedgerStore) async throws {
        _ = try await store.append(entries(10), sign: sign())
        _ = try await store.append(entries(5, from: 10), sign: sign())
        let head = try #require(try await store.latestTreeHead())
        #expect(head.body.size == 15)
        #expect(head.body.root == (try await store.root(size: 15)))
        var trust = TrustStore()
        trust.pin(signer.verifyingKey, of: .kor)
        #expect(throws: Never.self) { _ = try head.verified(by: trust) }
        let v = try await store.verify()
        #expect(v.isIntact && v.treeHeadSize == 15)
    }

    public static func badInputChangesNothing(_ store: any LedgerStore) async throws {
        _ = try await store.append(entries(3), sign: sign())
        let before = try await store.root(size: 3)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.append([], sign: nil) }
        let huge = LedgerEntry(kind: .itemRead, at: Date(), detail: String(repeating: "x", count: StoreLimits.maximumEntryBytes + 1))
        await #expect(throws: StoreError(.oversized, "")) { _ = try await store.append(entries(2, from: 3) + [huge], sign: nil) }
        // A signer that fails, or signs another size, aborts the whole append.
        await #expect(throws: StoreError.self) {
            _ = try await store.append(entries(4, from: 3), sign: { _, _ in throw SealingError(.invalidKey, "no key") })
        }
        await #expect(throws: StoreError(.invalidInput, "")) {
            _ = try await store.append(entries(4, from: 3), sign: { size, root in try sign()(size + 1, root) })
        }
        #expect(try await store.size() == 3)
        #expect(try await store.root(size: 3) == before)
        #expect(try await store.latestTreeHead()?.body.size == 3)
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.root(size: 4) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.inclusionProof(index: 3, size: 3) }
        await #expect(throws: StoreError(.invalidInput, "")) { _ = try await store.consistencyProof(old: 3, new: 2) }
        await #expect(throws: StoreError(.notFound, "")) { _ = try await store.entry(at: 3) }
        #expect(try await store.verify().isIntact)
    }

    public static func concurrentWriters(_ store: any LedgerStore) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<2 {
                group.addTask {
                    for round in 0..<25 {
                        _ = try await store.append(entries(4, detail: "w\(writer) r\(round) "), sign: sign())
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.size() == 200)
        var details = Set<String>()
        for i in 0..<200 { details.insert(try await store.entry(at: i).detail) }
        #expect(details.count == 200)
        let v = try await store.verify()
        #expect(v.isIntact && v.treeHeadSize == 200)
    }
}

