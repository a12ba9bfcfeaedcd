import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

private func at(_ s: String) -> Date { Fixtures.at(s) }
private let sent = at("2019-11-24T10:00:00+09:00")

private func label(releasableTo: Set<Party> = [.jpn, .usa], level: String = "II") -> SecurityLabel {
    try! SecurityLabel(
        policy: "national:KOR", originator: .kor, level: level, releasableTo: releasableTo, purpose: "dprk-nuclear-missile",
        created: at("2019-11-24T09:00:00+09:00"))
}

private let book = Nodes.book
private let kj = book["gsomia-kor-jpn-2016"]!.agreement
private let tisa = book["tisa-2014"]!.agreement

private func item(_ l: SecurityLabel = label(), payload: String = "assessment") throws -> SealedItem {
    try Nodes.kor.signing.sealOrigin([(l, "text/plain", Array(payload.utf8))], originator: .kor, at: sent)[0]
}

private func send(
    _ items: [Outgoing], by node: TestNode = Nodes.kor, from: Party = .kor, to: TestNode = Nodes.jpn, agreement: Agreement = kj
) throws -> EnvelopeBatch {
    try node.signing.sealBatch(
        items, from: from, to: to.party, recipientKey: to.decryption.encryptionKey, agreement: agreement, firstSequence: 7, at: sent)
}

/// A copy of `u` with its batch header or envelope altered, as an attacker on the wire would.
private func tampered(
    _ u: UnverifiedEnvelope, header: (inout Signed<BatchHeader>) -> Void = { _ in }, envelope: (Envelope) -> Envelope = { $0 }
) -> UnverifiedEnvelope {
    var h = u.header
    header(&h)
    return UnverifiedEnvelope(header: h, originRoot: u.originRoot, envelope: envelope(u.envelope))
}

private func open(_ u: UnverifiedEnvelope, as node: TestNode = Nodes.jpn) -> Result<VerifiedEnvelope, SealingError> {
    var opener = Nodes.opener(for: node)
    return Result { () throws(SealingError) in try opener.open(u) }
}

private func consent(for i: SealedItem, holder: Party = .usa, thirdParty: Party = .jpn, expires: String = "2020-01-01T00:00:00Z") throws -> Signed<ConsentBody> {
    try Signed(
        signing: ConsentBody(
            Consent(
                id: "c-\(holder)-\(thirdParty)", originator: .kor, itemDigest: i.manifest.digestHex, holder: holder, thirdParty: thirdParty,
                purpose: "dprk-nuclear-missile", issuedAt: at("2019-11-01T00:00:00Z"), expiresAt: at(expires))),
        with: Nodes.kor.signing)
}

@Suite("Envelope refusals, each its own error")
struct RefusalTests {
    @Test func wrongRecipient() throws {
        let b = try send([Outgoing(item: try item())])
        #expect(open(b.unverified[0], as: Nodes.usa).failureCode == .wrongRecipient)
    }

    @Test func signatureByAnUnpinnedKey() throws {
        let impostor = TestNode(party: .kor)
        let i = try impostor.signing.sealOrigin([(label(), "text/plain", Array("x".utf8))], originator: .kor, at: sent)[0]
        let b = try send([Outgoing(item: i)], by: impostor)
        #expect(open(b.unverified[0]).failureCode == .unpinnedKey)
        // A pinned batch signature does not launder an unpinned origin seal.
        let relayed = try send([Outgoing(item: i)])
        #expect(open(relayed.unverified[0]).failureCode == .unpinnedKey)
    }

    @Test func aKeyOfAnotherPartyIsNotAccepted() throws {
        // USA's pinned key signing a batch that claims to come from KOR.
        let b = try send([Outgoing(item: try item())], by: Nodes.usa, from: .kor)
        #expect(open(b.unverified[0]).failureCode == .wrongSigner)
    }

    @Test func bothHybridSignaturesAreRequired() throws {
        let b = try send([Outgoing(item: try item())])
        let u = b.unverified[0]
        #expect(open(tampered(u, header: { $0.signature.parts = [$0.signature.parts[0]] })).failureCode == .signatureMissing)
        #expect(open(tampered(u, header: { $0.signature.parts = [[], $0.signature.parts[1]] })).failureCode == .signatureMissing)
        #expect(open(tampered(u, header: { $0.signature.parts[0][5] ^= 1 })).failureCode == .signatureInvalid)
        #expect(open(tampered(u, header: { $0.signature.parts[1][100] ^= 1 })).failureCode == .signatureInvalid)
        // Swapping in another valid ML-DSA signature (over another batch) fails too.
        let other = try send([Outgoing(item: try item(payload: "other"))])
        #expect(open(tampered(u, header: { $0.signature.parts[1] = other.header.signature.parts[1] })).failureCode == .signatureInvalid)
    }

    @Test(arguments: [
        ("another item", "item"), ("another holder", "holder"), ("another party", "party"), ("expired", "expired"),
        ("signed by the holder, not the originator", "forged"),
    ])
    func consentsMustMatch(name: String, what: String) throws {
        let i = try item()
        let k: Signed<ConsentBody>
        switch what {
        case "item": k = try consent(for: try item(payload: "another"))
        case "holder": k = try consent(for: i, holder: .jpn)
        case "party": k = try consent(for: i, thirdParty: .kor)
        case "forged": k = try Signed(signing: try consent(for: i).body, with: Nodes.usa.signing)
        default: k = try consent(for: i, expires: "2019-11-20T00:00:00Z")
        }
        let b = try send([Outgoing(item: i, consents: [k])], by: Nodes.usa, from: .usa, agreement: tisa)
        let r = open(b.unverified[0])
        #expect(r.failureCode == .consentInvalid, "\(name)")
        if case .failure(let e) = r { #expect(e.refusal?.article == .thirdParty) }
        // The right consent is accepted.
        let good = try send([Outgoing(item: i, consents: [try consent(for: i)])], by: Nodes.usa, from: .usa, agreement: tisa)
        #expect(open(good.unverified[0]).failureCode == nil)
    }

    @Test func labelChangedAfterSealing() throws {
        let b = try send([Outgoing(item: try item())])
        // Altered in transit: the batch root no longer covers it.
        let u = tampered(b.unverified[0], envelope: { e in e.with(manifest: e.manifest.relabelled(label(level: "III"))) })
        #expect(open(u).failureCode == .batchPathInvalid)
        // Altered by a dishonest sender who re-signs the batch: the origin seal catches it.
        var forged = try item()
        forged.manifest = forged.manifest.relabelled(label(releasableTo: [.jpn, .usa, .kor], level: "III"))
        let resent = try send([Outgoing(item: forged)])
        #expect(open(resent.unverified[0]).failureCode == .originSealInvalid)
    }

    @Test func payloadChanged() throws {
        let b = try send([Outgoing(item: try item())])
        let u = tampered(b.unverified[0], envelope: { e in
            var c = e.ciphertext
            c[0] ^= 1
            return e.with(ciphertext: c)
        })
        #expect(open(u).failureCode == .batchPathInvalid)  // in transit: not covered by the root
        // A dishonest sender encrypting another payload under the same seal.
        var swapped = try item()
        swapped.payload = Array("something else".utf8)
        let resent = try send([Outgoing(item: swapped)])
        #expect(open(resent.unverified[0]).failureCode == .payloadDigestMismatch)
    }

    @Test func theSequenceNumberIsBoundToTheSignature() throws {
        let b = try send([Outgoing(item: try item())])
        let u = b.unverified[0]
        #expect(u.envelope.header.sequence == 7)
        #expect(open(tampered(u, envelope: { $0.with(header: $0.header.renumbered(8)) })).failureCode == .batchPathInvalid)
    }

    @Test func misplacedEnvelopesAreRefused() throws {
        let b = try send([Outgoing(item: try item()), Outgoing(item: try item(payload: "b"))])
        #expect(open(tampered(b.unverified[0], envelope: { $0.with(batchIndex: 1) })).failureCode == .batchPathInvalid)
        #expect(open(tampered(b.unverified[1], envelope: { $0.with(path: []) })).failureCode == .batchPathInvalid)
        // In a whole batch too: each misplaced envelope fails on its own, the others open.
        var opener = Nodes.opener(for: Nodes.jpn)
        let results = opener.open(b)
        #expect(results.allSatisfy { $0.failureCode == nil })
    }

    @Test func policyIsRecheckedByTheReceiver() throws {
        // KOR's own node sends what KOR did not mark releasable to JPN.
        let notForJapan = try item(label(releasableTo: [.usa]))
        let b = try send([Outgoing(item: notForJapan)])
        let r = open(b.unverified[0])
        #expect(r.failureCode == .policyRefused)
        if case .failure(let e) = r { #expect(e.refusal?.code == .notReleasable) }
        // TOP SECRET has no row under the 2016 agreement.
        let ts = try send([Outgoing(item: try item(label(level: "I")))])
        if case .failure(let e) = open(ts.unverified[0]) { #expect(e.refusal?.code == .noEquivalence) } else { Issue.record("accepted") }
    }

    @Test func anAgreementTheReceiverDoesNotHoldIsRefused() throws {
        var other = kj
        other.title = "A different text"
        let b = try send([Outgoing(item: try item())], agreement: other)
        #expect(open(b.unverified[0]).failureCode == .wrongAgreement)
    }

    @Test func aFailedEnvelopeLeavesTheOpenerAsItWas() throws {
        let b = try send([Outgoing(item: try item()), Outgoing(item: try item(payload: "b"))])
        var opener = Nodes.opener(for: Nodes.jpn)
        let bad = tampered(b.unverified[0], header: { $0.signature.parts[0][0] ^= 1 })
        #expect(throws: SealingError.self) { try opener.open(bad) }
        // The forged header was not cached: the genuine one still verifies, the forged one still fails.
        #expect(try opener.open(b.unverified[1]).payload == Array("b".utf8))
        #expect(throws: SealingError.self) { try opener.open(bad) }
    }

    /// Every single-bit flip over the label, header, seals and consents of a
    /// standalone envelope is refused. Inside the ML-DSA-65 signature blobs
    /// (3,309 bytes each) every 127th bit is flipped.
    @Test func everyBitFlipIsRefused() throws {
        let i = try item()
        let b = try send([Outgoing(item: i, consents: [try consent(for: i)])], by: Nodes.usa, from: .usa, agreement: tisa)
        let u = b.unverified[0]
        let bytes = u.derBytes
        let blobs = [u.header.signature, u.originRoot.signature, u.envelope.consents[0].signature].map { $0.parts[1] }
        let sampledRanges = blobs.compactMap { blob in range(of: blob, in: bytes) }
        #expect(sampledRanges.count == 3)
        // One opener for all flips: a refused envelope must not poison its caches.
        var opener = Nodes.opener(for: Nodes.jpn)
        _ = try opener.open(UnverifiedEnvelope(canonical: bytes))
        var flips = 0
        var accepted: [Int] = []
        for bit in 0..<(bytes.count * 8) {
            if sampledRanges.contains(where: { $0.contains(bit / 8) }), bit % 127 != 0 { continue }
            var copy = bytes
            copy[bit / 8] ^= 1 << (bit % 8)
            flips += 1
            if let x = try? UnverifiedEnvelope(canonical: copy), (try? opener.open(x)) != nil { accepted.append(bit) }
        }
        #expect(accepted.isEmpty, "flipped bits accepted: \(accepted.prefix(10))")
        #expect(flips > (bytes.count - 3 * 3309) * 8)
        #expect(try opener.open(u).payload == i.payload)
    }
}

private func range(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
    guard needle.count <= haystack.count else { return nil }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if Array(haystack[start..<(start + needle.count)]) == needle { return start..<(start + needle.count) }
    }
    return nil
}
