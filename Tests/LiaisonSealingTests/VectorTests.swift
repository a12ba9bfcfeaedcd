import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

/// Test vectors of every signed and canonical structure (docs/protocol.md).
/// `LIAISON_WRITE_VECTORS=1 swift test --filter VectorTests` regenerates
/// `Vectors/sealing-v1.json`; a normal run checks the committed file:
/// decode → re-encode byte-identical, signatures verify against the
/// vector's keys, and every single-bit flip is refused.
struct VectorFile: Codable {
    struct Key: Codable {
        var suite: String
        var party: String
        var secret: String
        var verifyingKey: String
    }
    struct Vector: Codable {
        var name: String
        var structure: String
        var der: String
    }
    var description: String
    var keys: [Key]
    var decryptionKey: String
    var vectors: [Vector]
}

private func at(_ s: String) -> Date { Fixtures.at(s) }
private let t0 = at("2019-11-24T10:00:00+09:00")

/// Fixed keys: seeds are bytes 1…64 and 65…128, so vectors can be re-derived.
private let korKey = try! SigningKey(suite: .hybridPQ, secretBytes: (1...64).map { UInt8($0) })
private let jpnKey = try! SigningKey(suite: .hybridPQ, secretBytes: (65...128).map { UInt8($0) })
private let korClassic = try! SigningKey(suite: .classic, secretBytes: (1...48).map { UInt8($0) })
private let jpnDecryption = try! DecryptionKey(suite: .hybridPQ, secretBytes: (129...160).map { UInt8($0) })

/// Decoders by structure name: decode, re-encode, and verify what can be.
private func check(_ structure: String, _ bytes: [UInt8], trust: TrustStore) throws -> [UInt8] {
    switch structure {
    case "VerifyingKey": return try VerifyingKey(canonical: bytes).derBytes
    case "EncryptionKey": return try EncryptionKey(canonical: bytes).derBytes
    case "SecurityLabel": return try LabelDocument(canonical: bytes).derBytes
    case "ItemManifest": return try ItemManifest(canonical: bytes).derBytes
    case "SignedConsent": let v = try Signed<ConsentBody>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedLifecycleStatement": let v = try Signed<StatementDocument>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedReclassificationNotice": let v = try Signed<ReclassificationNotice>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedDestructionRequest": let v = try Signed<DestructionRequest>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedDestructionCertificate": let v = try Signed<DestructionCertificate>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedCompromiseReport": let v = try Signed<CompromiseReport>(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "SignedTreeHead": let v = try SignedTreeHead(canonical: bytes); _ = try v.verified(by: trust); return v.derBytes
    case "DeliveryReceipt": let v = try DeliveryReceipt(canonical: bytes); try v.verify(trust: trust); return v.derBytes
    case "KeyRotation":
        let v = try KeyRotation(canonical: bytes)
        var t = trust
        try t.accept(v)
        return v.derBytes
    case "OriginSeal":
        let v = try OriginSeal(canonical: bytes)
        let key = try trust.verifyingKey(v.root.signature.keyID, of: v.root.originator, at: v.root.sealedAt)
        _ = key
        return v.derBytes
    case "StandaloneEnvelope":
        let v = try UnverifiedEnvelope(canonical: bytes)
        var opener = EnvelopeOpener(me: .jpn, decryptionKey: jpnDecryption, trust: trust, book: vectorBook)
        _ = try opener.open(v)
        return v.derBytes
    case "EnvelopeBatch":
        let v = try EnvelopeBatch(canonical: bytes)
        var opener = EnvelopeOpener(me: .jpn, decryptionKey: jpnDecryption, trust: trust, book: vectorBook)
        for r in opener.open(v) { _ = try r.get() }
        return v.derBytes
    default: throw SealingError(.malformed, "no decoder for \(structure)")
    }
}

/// Structures whose every bit is covered by a signature (or a seal).
private let signedStructures: Set<String> = [
    "SignedConsent", "SignedLifecycleStatement", "SignedReclassificationNotice", "SignedDestructionRequest",
    "SignedDestructionCertificate", "SignedCompromiseReport", "SignedTreeHead", "DeliveryReceipt", "KeyRotation",
    "StandaloneEnvelope", "EnvelopeBatch",
]

private let vectorAgreement: Agreement = {
    var a = Fixtures.kj
    a.parties[0].trustAnchors = [TrustAnchor(kind: "signing-key", fingerprint: korKey.verifyingKey.fingerprint)]
    a.parties[1].trustAnchors = [
        TrustAnchor(kind: "signing-key", fingerprint: jpnKey.verifyingKey.fingerprint),
        TrustAnchor(kind: "encryption-key", fingerprint: jpnDecryption.encryptionKey.fingerprint),
    ]
    return a
}()
private let vectorBook = AgreementBook([AgreementLifecycle(agreement: vectorAgreement, statements: Fixtures.statements(vectorAgreement.id))])
private let vectorTrust: TrustStore = {
    var t = TrustStore()
    t.pin(korKey.verifyingKey, of: .kor)
    t.pin(jpnKey.verifyingKey, of: .jpn)
    t.pinEncryption(jpnDecryption.encryptionKey, of: .jpn)
    return t
}()

private func makeVectors() throws -> VectorFile {
    var v: [VectorFile.Vector] = []
    func add(_ name: String, _ structure: String, _ bytes: [UInt8]) { v.append(.init(name: name, structure: structure, der: Hex.encode(bytes))) }
    let label = try SecurityLabel(
        policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.jpn, .usa],
        categories: [
            .init(tag: "Compartment", kind: .restrictive, values: ["SIGINT", "MISSILE"]),
            .init(tag: "Community", kind: .permissive, values: ["NAVY"]),
            .init(tag: "Handling", kind: .informative, values: ["BRIEF"]),
        ],
        purpose: "dprk-nuclear-missile", created: at("2019-11-24T09:00:00.250+09:00"), review: at("2029-11-24T00:00:00Z"))
    add("hybrid verifying key (KOR)", "VerifyingKey", korKey.verifyingKey.derBytes)
    add("classic verifying key", "VerifyingKey", korClassic.verifyingKey.derBytes)
    add("X-Wing encryption key (JPN)", "EncryptionKey", jpnDecryption.encryptionKey.derBytes)
    add("label with every field", "SecurityLabel", LabelDocument(label).derBytes)
    let items = try korKey.sealOrigin(
        [(label, "text/plain", Array("first".utf8)), (label, "text/plain", Array("second".utf8)), (label, "application/pdf", Array("third".utf8))],
        originator: .kor, at: t0)
    add("item manifest", "ItemManifest", items[1].manifest.derBytes)
    add("origin seal, item 2 of 3", "OriginSeal", items[1].seal.derBytes)
    let consent = try Signed(
        signing: ConsentBody(
            Consent(id: "kor-consent-1", originator: .kor, itemDigest: items[0].manifest.digestHex, holder: .usa, thirdParty: .jpn,
                    purpose: "dprk-nuclear-missile", issuedAt: t0, expiresAt: at("2019-12-24T00:00:00Z"))),
        with: korKey)
    add("consent", "SignedConsent", consent.derBytes)
    let statement = try Signed(
        signing: StatementDocument(
            LifecycleStatement(id: "kor-suspension-2019", agreement: "gsomia-kor-jpn-2016", party: .kor, at: at("2019-11-22T18:00:00+09:00"),
                               act: .noticeSuspension(notice: "kor-notice-2019", condition: "terminable at any time"), note: "Japan expressed understanding")),
        with: korKey)
    add("lifecycle statement (suspension)", "SignedLifecycleStatement", statement.derBytes)
    add("reclassification notice", "SignedReclassificationNotice", try Signed(
        signing: ReclassificationNotice(id: "r1", originator: .kor, itemDigest: items[0].manifest.digest, oldLevel: "II", newLevel: "III", at: t0, reason: "aged"),
        with: korKey).derBytes)
    add("destruction request", "SignedDestructionRequest", try Signed(
        signing: DestructionRequest(id: "d1", originator: .kor, holder: .jpn, itemDigest: items[0].manifest.digest, at: t0, reason: "no longer needed (Art 6(h))"),
        with: korKey).derBytes)
    add("destruction certificate", "SignedDestructionCertificate", try Signed(
        signing: DestructionCertificate(id: "dc1", request: "d1", holder: .jpn, originator: .kor, itemDigest: items[0].manifest.digest, destroyedAt: t0, method: "crypto-shredded"),
        with: jpnKey).derBytes)
    add("compromise report", "SignedCompromiseReport", try Signed(
        signing: CompromiseReport(id: "cr1", reporter: .jpn, originator: .kor, itemDigests: [items[0].manifest.digest, items[1].manifest.digest], stage: .suspected, at: t0, description: "laptop lost"),
        with: jpnKey).derBytes)
    let leaves: [[UInt8]] = (0..<5).map { Array("entry \($0)".utf8) }
    let hashes = leaves.map { MerkleHash.leaf($0) }
    let sth = try SignedTreeHead(signing: TreeHead(party: .jpn, size: 5, root: MerkleHash.root(hashes[...]), at: t0), with: jpnKey)
    add("signed tree head", "SignedTreeHead", sth.derBytes)
    add("delivery receipt", "DeliveryReceipt", DeliveryReceipt(receiver: .jpn, entry: leaves[3], leafIndex: 3, path: MerkleHash.paths(hashes)[3], treeHead: sth).derBytes)
    let newKey = try SigningKey(suite: .hybridPQ, secretBytes: (201...264).map { UInt8($0 & 0xFF) })
    add("key rotation", "KeyRotation", try KeyRotation(party: .kor, from: korKey, to: newKey, validFrom: t0, oldValidUntil: at("2019-12-24T00:00:00Z")).derBytes)
    let batch = try korKey.sealBatch(
        items.map { Outgoing(item: $0) }, from: .kor, to: .jpn, recipientKey: jpnDecryption.encryptionKey, agreement: vectorAgreement,
        firstSequence: 41, at: t0)
    add("envelope batch of 3", "EnvelopeBatch", batch.derBytes)
    add("standalone envelope, 2 of 3", "StandaloneEnvelope", batch.unverified[1].derBytes)
    return VectorFile(
        description: "Liaison protocol v1 test vectors (docs/protocol.md). Keys: hybrid-pq secrets are Ed25519 seed ‖ ML-DSA-65 seed; the X-Wing seed decrypts the envelopes.",
        keys: [
            .init(suite: "hybrid-pq", party: "KOR", secret: Hex.encode(korKey.secretBytes), verifyingKey: Hex.encode(korKey.verifyingKey.derBytes)),
            .init(suite: "hybrid-pq", party: "JPN", secret: Hex.encode(jpnKey.secretBytes), verifyingKey: Hex.encode(jpnKey.verifyingKey.derBytes)),
        ],
        decryptionKey: Hex.encode(jpnDecryption.secretBytes), vectors: v)
}

private let vectorPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/sealing-v1.json")

private func loadVectors() throws -> VectorFile {
    if ProcessInfo.processInfo.environment["LIAISON_WRITE_VECTORS"] == "1" {
        let file = try makeVectors()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(file).write(to: vectorPath)
        return file
    }
    let url = try #require(Bundle.module.url(forResource: "sealing-v1", withExtension: "json", subdirectory: "Vectors"))
    return try JSONDecoder().decode(VectorFile.self, from: Data(contentsOf: url))
}

@Suite("Test vectors")
struct VectorTests {
    @Test func theCommittedKeysAreTheFixedSeeds() throws {
        let file = try loadVectors()
        #expect(file.keys[0].verifyingKey == Hex.encode(korKey.verifyingKey.derBytes))
        #expect(file.keys[1].verifyingKey == Hex.encode(jpnKey.verifyingKey.derBytes))
        #expect(file.decryptionKey == Hex.encode(jpnDecryption.secretBytes))
        #expect(file.vectors.count == 17)
    }

    @Test func vectorsRoundTripAndVerify() throws {
        for v in try loadVectors().vectors {
            let bytes = try #require(Hex.decode(v.der))
            let again = try check(v.structure, bytes, trust: vectorTrust)
            #expect(again == bytes, "\(v.name) does not re-encode identically")
        }
    }

    @Test func trailingBytesAndTruncationAreRefused() throws {
        for v in try loadVectors().vectors {
            let bytes = Hex.decode(v.der)!
            #expect(throws: SealingError.self, "\(v.name) + trailing byte") { try check(v.structure, bytes + [0], trust: vectorTrust) }
            #expect(throws: SealingError.self, "\(v.name) truncated") { try check(v.structure, Array(bytes.dropLast()), trust: vectorTrust) }
        }
    }

    /// Every single-bit flip of a signed vector is refused (envelopes are
    /// flipped in RefusalTests): every bit outside ML-DSA-65 signatures and
    /// public keys, and every 499th bit inside them (each such flip costs a
    /// full ML-DSA operation, milliseconds in a debug build).
    @Test func everySingleBitFlipIsRefused() throws {
        for v in try loadVectors().vectors
        where signedStructures.contains(v.structure) && !["EnvelopeBatch", "StandaloneEnvelope"].contains(v.structure) {
            let bytes = Hex.decode(v.der)!
            // OCTET STRINGs of 3,309 bytes (04 82 0C ED: a signature) and of
            // 1,952 bytes (04 82 07 A0: a public key).
            let blobs = (0..<(bytes.count - 4)).compactMap { i -> Range<Int>? in
                switch Array(bytes[i..<(i + 4)]) {
                case [0x04, 0x82, 0x0C, 0xED]: (i + 4)..<(i + 4 + 3309)
                case [0x04, 0x82, 0x07, 0xA0]: (i + 4)..<(i + 4 + 1952)
                default: nil
                }
            }
            var accepted: [Int] = []
            for bit in 0..<(bytes.count * 8) {
                if blobs.contains(where: { $0.contains(bit / 8) }), bit % 499 != 0 { continue }
                var copy = bytes
                copy[bit / 8] ^= 1 << (bit % 8)
                if (try? check(v.structure, copy, trust: vectorTrust)) != nil { accepted.append(bit) }
            }
            #expect(accepted.isEmpty, "\(v.name): flips accepted at bits \(accepted.prefix(8))")
        }
    }
}
