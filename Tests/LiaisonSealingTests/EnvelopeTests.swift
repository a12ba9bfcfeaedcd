import Foundation
import LiaisonModel
import LiaisonSealing
import LiaisonTesting
import Testing

private func at(_ s: String) -> Date { Fixtures.at(s) }
private let sent = at("2019-11-24T10:00:00+09:00")

private func label(originator: Party = .kor, level: String = "II", releasableTo: Set<Party> = [.jpn, .usa], purpose: String? = "dprk-nuclear-missile") -> SecurityLabel {
    try! SecurityLabel(
        policy: "national:\(originator)", originator: originator, level: level, releasableTo: releasableTo,
        categories: [.init(tag: "Compartment", kind: .restrictive, values: ["MISSILE"])], purpose: purpose,
        created: at("2019-11-24T09:00:00+09:00"))
}

/// KOR seals `count` items and sends them to JPN under the 2016 GSOMIA.
private func korToJpn(count: Int = 4, payloadSize: Int = 100) throws -> (EnvelopeBatch, [SealedItem]) {
    let book = Nodes.book
    let items = try Nodes.kor.signing.sealOrigin(
        (0..<count).map { i in (label(), "text/plain", Array(repeating: UInt8(i & 0xFF), count: payloadSize)) },
        originator: .kor, at: sent)
    let batch = try Nodes.kor.signing.sealBatch(
        items.map { Outgoing(item: $0) }, from: .kor, to: .jpn, recipientKey: Nodes.jpn.decryption.encryptionKey,
        agreement: book["gsomia-kor-jpn-2016"]!.agreement, firstSequence: 100, at: sent)
    return (batch, items)
}

@Suite("Envelopes: seal, batch, open")
struct EnvelopeTests {
    @Test func aBatchOpensEnvelopeByEnvelope() throws {
        let (batch, items) = try korToJpn(count: 5)
        var opener = Nodes.opener(for: Nodes.jpn)
        let opened = opener.open(batch)
        #expect(opened.count == 5)
        for (i, r) in opened.enumerated() {
            let v = try r.get()
            #expect(v.payload == items[i].payload)
            #expect(v.header.sequence == 100 + i)
            #expect(v.marking.receiverLevel.code == "GOKUHI")
            #expect(v.agreement == "gsomia-kor-jpn-2016")
        }
        // Each envelope verifies alone, in any order, after a round trip through bytes.
        var fresh = Nodes.opener(for: Nodes.jpn)
        for u in batch.unverified.reversed() {
            let again = try UnverifiedEnvelope(canonical: u.derBytes)
            #expect(try fresh.open(again).payload == items[again.envelope.batchIndex].payload)
        }
        #expect(try EnvelopeBatch(canonical: batch.derBytes) == batch)
    }

    @Test func theClassicSuiteWorksToo() throws {
        let kor = TestNode(party: .kor, suite: .classic), jpn = TestNode(party: .jpn, suite: .classic)
        var kj = Fixtures.kj
        kj.suite = .classic
        kj = Nodes.pinned(kj, nodes: [kor, jpn])
        let book = AgreementBook([AgreementLifecycle(agreement: kj, statements: Fixtures.statements(kj.id))])
        let items = try kor.signing.sealOrigin([(label(), "text/plain", Array("hello".utf8))], originator: .kor, at: sent)
        let batch = try kor.signing.sealBatch(
            [Outgoing(item: items[0])], from: .kor, to: .jpn, recipientKey: jpn.decryption.encryptionKey, agreement: kj,
            firstSequence: 1, at: sent)
        let trust = try TrustStore(agreements: [kj], identities: [kor.identity, jpn.identity])
        var opener = EnvelopeOpener(me: .jpn, decryptionKey: jpn.decryption, trust: trust, book: book)
        #expect(try opener.open(batch.unverified[0]).payload == Array("hello".utf8))
        #expect(batch.header.signature.parts.count == 1)
    }

    @Test func theHubForwardsOnlyWithTheOriginatorsConsent() throws {
        let book = Nodes.book
        let tisa = book["tisa-2014"]!.agreement
        let item = try Nodes.kor.signing.sealOrigin([(label(), "text/plain", Array("launch".utf8))], originator: .kor, at: sent)[0]
        let consent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "kor-consent-1", originator: .kor, itemDigest: item.manifest.digestHex, holder: .usa, thirdParty: .jpn,
                    purpose: "dprk-nuclear-missile", issuedAt: sent, expiresAt: at("2019-12-24T00:00:00+09:00"))),
            with: Nodes.kor.signing)
        func forward(_ consents: [Signed<ConsentBody>]) throws -> Result<VerifiedEnvelope, SealingError> {
            let batch = try Nodes.usa.signing.sealBatch(
                [Outgoing(item: item, consents: consents)], from: .usa, to: .jpn, recipientKey: Nodes.jpn.decryption.encryptionKey,
                agreement: tisa, firstSequence: 1, at: sent)
            var opener = Nodes.opener(for: Nodes.jpn)
            return opener.open(batch)[0]
        }
        // JPN verifies KOR's seal and consent itself.
        let ok = try forward([consent]).get()
        #expect(ok.consents.map(\.id) == ["kor-consent-1"])
        #expect(ok.manifest.label.originator == .kor)
        #expect(try forward([]).failureCode == .consentInvalid)
        // A consent "from KOR" signed by the hub itself is refused.
        let forged = Signed(body: consent.body, signature: try Nodes.usa.signing.sign(consent.body.derBytes, structure: ConsentBody.structureName))
        #expect(try forward([forged]).failureCode == .consentInvalid)
    }
}

extension Result where Failure == SealingError {
    var failureCode: SealingError.Code? {
        if case .failure(let e) = self { return e.code }
        return nil
    }
}
