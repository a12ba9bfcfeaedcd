import Foundation
import LiaisonApp
import LiaisonFederation
import LiaisonModel
import LiaisonSealing
import LiaisonStore
import LiaisonTesting
import Testing

/// Three nodes: the hub route under TISA with the originator's consent, and
/// statements about items travelling to their holders.
@Suite(.serialized) struct StatementsAndHubTests {
    @Test func theHubForwardsOnlyWithTheOriginatorsConsentAndTheRecipientChecksIt() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn, .usa])
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, usa = net[.usa].federation
        let korKey = try HostilePeerTests.keys(net, .kor).signing
        let sealed = try await kor.originate([(ExchangeTests.label(to: [.usa, .jpn]), "text/plain", Array("launch assessment".utf8))])
        let id = sealed[0].manifest.itemID
        let toHub = try await kor.release(itemID: id, to: .usa, agreement: "tisa-2014")
        #expect(try await ExchangeTests.settled(net[.kor], [toHub.id])[0].state == .done)
        // Without KOR's consent the hub will not send…
        await #expect(throws: FederationError(.refused, "")) { _ = try await usa.release(itemID: id, to: .jpn, agreement: "tisa-2014") }
        // …and JPN will not accept what a hub forces through.
        let forced = try HostilePeerTests.batch(net, items: sealed, sequences: [901], agreement: "tisa-2014", from: .usa, to: .jpn)
        let reply = try BatchReply(canonical: try await net[.usa].transport(to: .jpn).sendBatch(forced.derBytes))
        let refusal = try LedgerEntry(canonical: reply.outcomes[0].entry)
        #expect(refusal.kind == .itemRefused)
        #expect(refusal.detail.contains("Art 6(a)"), "\(refusal.detail)")
        // A consent for another third party does not do either.
        func consent(_ third: Party, id: String) throws -> Signed<ConsentBody> {
            try Signed(
                signing: ConsentBody(
                    Consent(
                        id: id, originator: .kor, itemDigest: sealed[0].manifest.digestHex, holder: .usa, thirdParty: third,
                        purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(86_400))), with: korKey)
        }
        await #expect(throws: FederationError(.refused, "")) {
            _ = try await usa.release(itemID: id, to: .jpn, agreement: "tisa-2014", consents: [try consent(.kor, id: "wrong-party")])
        }
        // With it, the item goes KOR → USA → JPN, and JPN checked KOR's seal and consent itself.
        let good = try consent(.jpn, id: "kor-consent-1")
        let statement = try await kor.publish([.consent(good)], to: [.usa])
        #expect(try await FederationTests.statementsSettled(net[.kor], statement.map(\.id))[0].state == .done)
        let forwarded = try await usa.release(itemID: id, to: .jpn, agreement: "tisa-2014", consents: [good])
        let done = try await ExchangeTests.settled(net[.usa], [forwarded.id])
        #expect(done[0].state == .done, "\(done[0].lastError ?? "")")
        let held = try await net[.jpn].store.item(id)
        #expect(held.holding.source == .received(from: .usa, agreement: "tisa-2014"))
        #expect(held.payload == Array("launch assessment".utf8))
    }

    @Test func reclassificationAndCompromiseReachTheOtherSideAndAreAcknowledged() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, jpn = net[.jpn].federation
        let korKey = try HostilePeerTests.keys(net, .kor).signing, jpnKey = try HostilePeerTests.keys(net, .jpn).signing
        let sealed = try await kor.originate([(ExchangeTests.label(to: [.jpn]), "text/plain", Array("to be downgraded".utf8))])
        let id = sealed[0].manifest.itemID, digest = sealed[0].manifest.digest
        let sent = try await kor.release(itemID: id, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await ExchangeTests.settled(net[.kor], [sent.id])[0].state == .done)
        // KOR reclassifies II → III; JPN re-marks (秘) and acknowledges.
        let notice = try Signed(
            signing: ReclassificationNotice(id: "kor-reclass-1", originator: .kor, itemDigest: digest, oldLevel: "II", newLevel: "III", at: Date(), reason: "declassification review"),
            with: korKey)
        let wrong = try Signed(
            signing: ReclassificationNotice(id: "kor-reclass-0", originator: .kor, itemDigest: digest, oldLevel: "I", newLevel: "III", at: Date(), reason: "wrong"),
            with: korKey)
        let queued = try await kor.publish([.reclassification(wrong, itemID: id), .reclassification(notice, itemID: id)], to: [.jpn])
        let acks = try await FederationTests.statementsSettled(net[.kor], queued.map(\.id))
        #expect(acks[0].state == .refused)
        #expect(acks[0].lastError?.contains("not I") == true, "\(acks[0].lastError ?? "")")
        #expect(acks[1].state == .done)
        #expect(try await net[.jpn].store.item(id).holding.label.level == "III")
        #expect(try await net[.jpn].store.holdingEvents(id).map(\.kind) == [.reclassified])
        // A holder may not reclassify: JPN's notice about KOR's item is refused at KOR.
        let usurped = try Signed(
            signing: ReclassificationNotice(id: "jpn-reclass", originator: .jpn, itemDigest: digest, oldLevel: "III", newLevel: "II", at: Date(), reason: "x"),
            with: jpnKey)
        let back = try await jpn.publish([.reclassification(usurped, itemID: id)], to: [.kor])
        #expect(try await FederationTests.statementsSettled(net[.jpn], back.map(\.id))[0].state == .refused)
        // JPN reports the item compromised (Art 17): marked here, recorded at the originator.
        let report = try Signed(
            signing: CompromiseReport(id: "jpn-incident-1", reporter: .jpn, originator: .kor, itemDigests: [digest], stage: .suspected, at: Date(), description: "laptop lost"),
            with: jpnKey)
        let reported = try await jpn.reportCompromise(report, itemID: id)
        #expect(try await net[.jpn].store.item(id).holding.status == .compromised)
        #expect(try await FederationTests.statementsSettled(net[.jpn], reported.map(\.id))[0].state == .done)
        let korLedger = try await HostilePeerTests.entries(net[.kor].store, from: 0)
        #expect(korLedger.contains { $0.kind == .compromiseReported && $0.detail.contains("jpn-incident-1") })
        // A peer that is away: the statement waits, listed as unacknowledged, until it is back.
        await net.stop(.jpn)
        let later = try Signed(
            signing: ReclassificationNotice(id: "kor-reclass-2", originator: .kor, itemDigest: digest, oldLevel: "III", newLevel: "II", at: Date(), reason: "upgrade"),
            with: korKey)
        _ = try await kor.publish([.reclassification(later, itemID: id)], to: [.jpn])
        try await Task.sleep(nanoseconds: 300_000_000)
        let waiting = try await kor.unacknowledgedStatements()
        #expect(waiting.count == 1)
        #expect(waiting[0].task.peer == .jpn)
    }
}
