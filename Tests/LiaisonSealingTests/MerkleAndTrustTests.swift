import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

/// The RFC 9162 definition, written as plainly as possible.
private func referenceRoot(_ leaves: [[UInt8]]) -> [UInt8] {
    if leaves.isEmpty { return MerkleHash.empty }
    if leaves.count == 1 { return MerkleHash.leaf(leaves[0]) }
    var k = 1
    while k * 2 < leaves.count { k *= 2 }
    return MerkleHash.node(referenceRoot(Array(leaves[..<k])), referenceRoot(Array(leaves[k...])))
}

@Suite("RFC 9162 batch hashing")
struct MerkleTests {
    @Test func knownAnswers() {
        // RFC 6962 test data: the empty tree and a one-leaf tree over the empty string.
        #expect(Hex.encode(MerkleHash.empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(MerkleHash.leaf([])) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    }

    @Test(arguments: Array(1...130))
    func rootsAndPathsAgreeWithTheReference(size: Int) {
        let leaves = (0..<size).map { Array("leaf \($0)".utf8) }
        let hashes = leaves.map { MerkleHash.leaf($0) }
        let root = referenceRoot(leaves)
        #expect(MerkleHash.root(hashes[...]) == root)
        let paths = MerkleHash.paths(hashes)
        for i in 0..<size {
            #expect(MerkleHash.root(fromLeaf: hashes[i], index: i, size: size, path: paths[i]) == root)
            // Corrupted-proof probes: every one refused.
            let h = paths[i].hashes
            var probes: [(Int, Int, [[UInt8]])] = [
                (i, size + 1, h), (i, size * 2, h), (i, max(1, size / 2), h), (i + 1, size, h), (i ^ 1, size, h),
            ]
            if size > 1 { probes.append((i, size - 1, h)) }
            if !h.isEmpty {
                probes.append((i, size, Array(h.dropLast())))
                probes.append((i, size, h + [h[0]]))
                var flipped = h
                flipped[0][0] ^= 1
                probes.append((i, size, flipped))
                probes.append((i, size, [MerkleHash.empty] + h))
                probes.append((i, size, [root] + Array(h.dropFirst())))
            }
            // Each probe is checked against the root a signed tree head of
            // its claimed size would carry (size and root are signed together).
            for (index, n, path) in probes where !(index == i && n == size && path == h) {
                let expected = n == size ? root : referenceRoot((0..<n).map { Array("leaf \($0)".utf8) })
                #expect(MerkleHash.root(fromLeaf: hashes[i], index: index, size: n, path: AuditPath(path)) != expected, "size \(size) leaf \(i): probe (\(index), \(n), \(path.count) hashes) accepted")
            }
        }
    }

    /// The batch verifier answers as the single-proof one does for every
    /// proof, in order and out of order, and a proof altered anywhere (a
    /// bit of any path element, its leaf, its index) is refused even right
    /// after its genuine neighbour was accepted.
    @Test(arguments: [1, 2, 3, 7, 8, 9, 31, 64, 100, 130])
    func aBatchOfProofsIsVerifiedAsEachAlone(size: Int) {
        let hashes = (0..<size).map { MerkleHash.leaf(Array("leaf \($0)".utf8)) }
        let root = MerkleHash.root(hashes[...])
        let paths = MerkleHash.paths(hashes)
        func accepts(_ batch: inout InclusionBatch, leafHash: [UInt8], index: Int, path: AuditPath) -> Bool {
            batch.verify(leafHash: leafHash, index: index, path: path)
        }
        var inOrder = InclusionBatch(size: size, root: root)
        for i in 0..<size { #expect(accepts(&inOrder, leafHash: hashes[i], index: i, path: paths[i]), "size \(size) leaf \(i)") }
        var reordered = InclusionBatch(size: size, root: root)
        for i in Array((0..<size).reversed()) + Array(stride(from: 0, to: size, by: 2)) + Array(stride(from: 1, to: size, by: 2)) {
            #expect(accepts(&reordered, leafHash: hashes[i], index: i, path: paths[i]))
        }
        var batch = InclusionBatch(size: size, root: root)
        for i in 0..<size {
            let h = paths[i].hashes
            for j in 0..<h.count {
                for bit in [0, 7, 255] {
                    var altered = h
                    altered[j][bit / 8] ^= UInt8(1 << (bit % 8))
                    #expect(!accepts(&batch, leafHash: hashes[i], index: i, path: AuditPath(altered)), "size \(size) leaf \(i) element \(j) bit \(bit)")
                }
            }
            var leaf = hashes[i]
            leaf[31] ^= 1
            #expect(!accepts(&batch, leafHash: leaf, index: i, path: paths[i]))
            if size > 1 { #expect(!accepts(&batch, leafHash: hashes[i], index: (i + 1) % size, path: paths[i])) }
            #expect(!accepts(&batch, leafHash: hashes[i], index: size, path: paths[i]))
            if !h.isEmpty { #expect(!accepts(&batch, leafHash: hashes[i], index: i, path: AuditPath(Array(h.dropLast())))) }
            #expect(!accepts(&batch, leafHash: hashes[i], index: i, path: AuditPath(h + [root])))
            #expect(accepts(&batch, leafHash: hashes[i], index: i, path: paths[i]))
        }
        // Under another head, nothing verifies.
        var other = InclusionBatch(size: size, root: MerkleHash.leaf([1]))
        #expect(!(0..<size).contains { accepts(&other, leafHash: hashes[$0], index: $0, path: paths[$0]) })
    }
}

@Suite("Trust store and key rotation (invariant 7)")
struct TrustTests {
    let t0 = Fixtures.at("2020-01-01T00:00:00Z")
    let t1 = Fixtures.at("2020-02-01T00:00:00Z")
    let t2 = Fixtures.at("2020-03-01T00:00:00Z")

    @Test func onlyPinnedIdentitiesAreTrusted() throws {
        let book = Nodes.book
        let agreements = book.lifecycles.values.map(\.agreement)
        #expect(throws: SealingError(.unpinnedKey, "")) {
            try TrustStore(agreements: agreements, identities: [TestNode(party: .kor).identity])
        }
        // Pinned for one party, presented as another: refused.
        var forged = Nodes.kor.identity
        forged.party = .jpn
        #expect(throws: SealingError(.unpinnedKey, "")) { try TrustStore(agreements: agreements, identities: [forged]) }
        let trust = try TrustStore(agreements: agreements, identities: [Nodes.kor.identity])
        #expect(try trust.verifyingKey(Nodes.kor.signing.verifyingKey.keyID, of: .kor, at: t0) == Nodes.kor.signing.verifyingKey)
        #expect(throws: SealingError(.wrongSigner, "")) { try trust.verifyingKey(Nodes.kor.signing.verifyingKey.keyID, of: .jpn, at: t0) }
        #expect(throws: SealingError(.unpinnedKey, "")) { try trust.encryptionKey(of: .jpn) }
    }

    @Test func rotationOverlapsThenRetiresTheOldKey() throws {
        let old = Nodes.kor.signing
        let new = try SigningKey.generate(.hybridPQ)
        var trust = TrustStore()
        trust.pin(old.verifyingKey, of: .kor)
        try trust.accept(try KeyRotation(party: .kor, from: old, to: new, validFrom: t1, oldValidUntil: t2))
        let mid = Fixtures.at("2020-02-15T00:00:00Z")
        #expect(throws: SealingError(.keyNotValidAt, "")) { try trust.verifyingKey(new.verifyingKey.keyID, of: .kor, at: t0) }
        #expect(try trust.verifyingKey(new.verifyingKey.keyID, of: .kor, at: mid) == new.verifyingKey)
        #expect(try trust.verifyingKey(old.verifyingKey.keyID, of: .kor, at: mid) == old.verifyingKey)
        #expect(throws: SealingError(.keyNotValidAt, "")) { try trust.verifyingKey(old.verifyingKey.keyID, of: .kor, at: t2) }
        // Statements signed by the new key verify; by the old key after retirement, not.
        let late = TreeHead(party: .kor, size: 1, root: MerkleHash.leaf([1]), at: t2)
        #expect(throws: Never.self) { _ = try Signed(signing: late, with: new).verified(by: trust) }
        #expect(throws: SealingError(.keyNotValidAt, "")) { _ = try Signed(signing: late, with: old).verified(by: trust) }
    }

    @Test func rotationsNotChainedFromATrustedKeyAreRefused() throws {
        let stranger = try SigningKey.generate(.hybridPQ)
        let new = try SigningKey.generate(.hybridPQ)
        var trust = TrustStore()
        trust.pin(Nodes.kor.signing.verifyingKey, of: .kor)
        #expect(throws: SealingError(.invalidRotation, "")) {
            try trust.accept(try KeyRotation(party: .kor, from: stranger, to: new, validFrom: t1, oldValidUntil: t2))
        }
        // The right old key id, but signed by someone else.
        var r = try KeyRotation(party: .kor, from: Nodes.kor.signing, to: new, validFrom: t1, oldValidUntil: t2)
        r.oldSignature = try stranger.sign(r.body.derBytes, structure: "KeyRotationBody")
        #expect(throws: SealingError(.invalidRotation, "")) { try trust.accept(r) }
        // No proof of possession of the new key.
        var p = try KeyRotation(party: .kor, from: Nodes.kor.signing, to: new, validFrom: t1, oldValidUntil: t2)
        p.newSignature = p.oldSignature
        #expect(throws: SealingError(.invalidRotation, "")) { try trust.accept(p) }
        // Another party's key cannot rotate KOR's.
        trust.pin(Nodes.jpn.signing.verifyingKey, of: .jpn)
        #expect(throws: SealingError(.invalidRotation, "")) {
            try trust.accept(try KeyRotation(party: .kor, from: Nodes.jpn.signing, to: new, validFrom: t1, oldValidUntil: t2))
        }
        #expect(throws: SealingError(.invalidRotation, "")) {
            try trust.accept(try KeyRotation(party: .kor, from: Nodes.kor.signing, to: new, validFrom: t2, oldValidUntil: t1))
        }
        #expect(throws: SealingError(.unpinnedKey, "")) { try trust.verifyingKey(new.verifyingKey.keyID, of: .kor, at: t2) }
    }
}

@Suite("Canonical encoding")
struct CanonicalTests {
    let label = try! SecurityLabel(
        policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.usa, .jpn],
        categories: [.init(tag: "B", kind: .restrictive, values: ["y", "x"]), .init(tag: "A", kind: .permissive, values: ["z"])],
        created: Fixtures.at("2020-01-01T00:00:00Z"))

    @Test func oneEncodingPerValue() throws {
        let bytes = LabelDocument(label).derBytes
        let back = try LabelDocument(canonical: bytes)
        #expect(back.derBytes == bytes)
        #expect(back.label.releasableTo == label.releasableTo)
        // Order of construction does not change the encoding.
        var shuffled = label
        shuffled.categories.reverse()
        shuffled.categories[1].values.reverse()
        #expect(LabelDocument(shuffled).derBytes == bytes)
    }

    @Test func unsortedListsAreNotCanonical() throws {
        // Hand-build a label whose releasability list is in the wrong order.
        let good = LabelDocument(label).derBytes
        let jpn = Array("JPN".utf8), usa = Array("USA".utf8)
        let i = try #require(indexOf([0x13, 3] + jpn + [0x13, 3] + usa, in: good))
        var bad = good
        bad.replaceSubrange(i..<(i + 10), with: [0x13, 3] + usa + [0x13, 3] + jpn)
        #expect(throws: SealingError(.nonCanonical, "")) { try LabelDocument(canonical: bad) }
    }

    /// Manifests reuse the label decoded from the same bytes before; bytes
    /// that differ — another label, or the same label not in canonical
    /// order — are decoded (or refused) on their own, every time.
    @Test func aLabelDecodedBeforeIsReusedOnlyForTheSameBytes() throws {
        let manifest = ItemManifest(itemID: [UInt8](repeating: 1, count: 16), label: label, mediaType: "text/plain", payload: Array("x".utf8))
        let bytes = manifest.derBytes
        // Labels compare as decoded (lists in canonical order).
        func decoded(_ l: SecurityLabel) throws -> SecurityLabel { try LabelDocument(canonical: LabelDocument(l).derBytes).label }
        let label = try decoded(self.label)
        #expect(try ItemManifest(canonical: bytes).label == label)
        #expect(try ItemManifest(canonical: bytes).label == label)
        var other = label
        other.level = "III"
        let otherBytes = ItemManifest(itemID: [UInt8](repeating: 1, count: 16), label: other, mediaType: "text/plain", payload: Array("x".utf8)).derBytes
        #expect(try ItemManifest(canonical: otherBytes).label == decoded(other))
        #expect(try ItemManifest(canonical: bytes).label == label)
        let jpn = Array("JPN".utf8), usa = Array("USA".utf8)
        let i = try #require(indexOf([0x13, 3] + jpn + [0x13, 3] + usa, in: bytes))
        var unsorted = bytes
        unsorted.replaceSubrange(i..<(i + 10), with: [0x13, 3] + usa + [0x13, 3] + jpn)
        for _ in 0..<2 { #expect(throws: SealingError(.nonCanonical, "")) { try ItemManifest(canonical: unsorted) } }
    }

    @Test func unknownVersionsAndSuitesAreRefused() throws {
        var v = Nodes.kor.signing.verifyingKey.derBytes
        // SEQUENCE, long length (2 bytes), then INTEGER 1 at offset 4..6.
        #expect(Array(v[4...6]) == [0x02, 0x01, 0x01])
        v[6] = 2
        #expect(throws: SealingError(.unknownVersion, "")) { try VerifyingKey(canonical: v) }
        var s = Nodes.kor.signing.verifyingKey.derBytes
        #expect(Array(s[7...9]) == [0x0A, 0x01, 0x01])
        s[9] = 9
        #expect(throws: SealingError(.unknownSuite, "")) { try VerifyingKey(canonical: s) }
    }

    @Test func nonMinimalLengthsAndGarbageAreRefused() {
        #expect(throws: SealingError(.malformed, "")) { try LabelDocument(canonical: [0x30, 0x81, 0x03, 0x02, 0x01, 0x01]) }
        #expect(throws: SealingError(.malformed, "")) { try LabelDocument(canonical: [0x30, 0x80, 0x00, 0x00]) }
        #expect(throws: SealingError(.malformed, "")) { try LabelDocument(canonical: []) }
        #expect(throws: SealingError(.oversized, "")) { try LabelDocument(canonical: [UInt8](repeating: 0, count: maximumObjectSize + 1)) }
    }
}

private func indexOf(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
    guard needle.count <= hay.count else { return nil }
    return (0...(hay.count - needle.count)).first { Array(hay[$0..<($0 + needle.count)]) == needle }
}
