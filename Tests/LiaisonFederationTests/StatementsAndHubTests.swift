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
@Suite("Statements and the hub route", .serialized) struct StatementsAndHubTests {
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
        let reply = try BatchReply(canonical: try await net[.usa].transport(to: .jpn).sendBatch(forced.derBytes, knownSize: nil))
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

    /// An act is recorded only with the statements that carry it: KOR's node
    /// knows JPN as a peer, not USA (not started), so a notice on the
    /// trilateral arrangement, which must reach both, is refused whole.
    @Test func anIssuedStatementThatCannotBeQueuedIsNotInForce() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, store = net[.kor].store
        let before = try #require(kor.book["tisa-2014"]).accepted.count
        let size = try await store.size()
        let error = await #expect(throws: FederationError.self) {
            try await kor.issueStatement(agreement: "tisa-2014", act: .terminationNotice(effective: nil), by: "Officer Park")
        }
        #expect(error?.code == .refused && error?.reason.contains("no peer USA") == true, "\(String(describing: error))")
        #expect(kor.book["tisa-2014"]?.accepted.count == before, "not in force here")
        #expect(try await store.statements(agreement: "tisa-2014").isEmpty)
        #expect(try await store.unacknowledgedStatements(peer: nil).isEmpty)
        #expect(try await store.size() == size, "nothing recorded")
        // On the bilateral agreement, whose other party is known: in force and on its way, in one write.
        let issued = try await kor.issueStatement(agreement: "gsomia-kor-jpn-2016", act: .noticeWithdrawal(notice: "kor-notice-2019"), by: "Officer Park")
        #expect(issued.tasks.map(\.peer) == [.jpn])
        #expect(try await store.unacknowledgedStatements(peer: .jpn).map(\.id).contains(issued.tasks[0].id))
        let entry = try await store.entry(at: issued.entry)
        #expect(entry.kind == .lifecycleStatement, "the entry returned is the statement's own")
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

@Suite("Statements received twice or early", .serialized) struct StatementRetryTests {
    @Test func aStatementSentAgainIsAnsweredWithItsFirstEntry() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let korKey = try HostilePeerTests.keys(net, .kor).signing
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(to: [.jpn, .usa]), "text/plain", Array("c".utf8))])[0]
        let consent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "kor-consent-retry", originator: .kor, itemDigest: sealed.manifest.digestHex, holder: .jpn, thirdParty: .usa,
                    purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(86_400))), with: korKey)
        let bundle = StatementBundle(from: .kor, statements: [.consent(consent)]).derBytes
        let link = net[.kor].transport(to: .jpn)
        let first = try BatchReply(canonical: try await link.sendStatements(bundle))
        let size = try await net[.jpn].store.size()
        let again = try BatchReply(canonical: try await link.sendStatements(bundle))
        #expect(again.outcomes.map(\.leafIndex) == first.outcomes.map(\.leafIndex))
        #expect(try await net[.jpn].store.size() == size, "a statement sent again is recorded once")
    }

    /// A holder keeps a consent only from its originator and only when it
    /// names this node as the holder: one relayed by another party, or for
    /// another holder, is refused and not kept; the genuine one is kept once.
    @Test func aConsentIsKeptOnlyFromItsOriginatorForThisHolder() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn, .usa])
        defer { Task { await net.stop() } }
        let korKey = try HostilePeerTests.keys(net, .kor).signing
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(to: [.jpn, .usa]), "text/plain", Array("r".utf8))])[0]
        func consent(_ id: String, holder: Party, third: Party) throws -> Signed<ConsentBody> {
            try Signed(
                signing: ConsentBody(
                    Consent(
                        id: id, originator: .kor, itemDigest: sealed.manifest.digestHex, holder: holder, thirdParty: third,
                        purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(86_400))), with: korKey)
        }
        func send(_ c: Signed<ConsentBody>, from: Party) async throws -> LedgerEntry {
            let reply = try BatchReply(
                canonical: try await net[from].transport(to: .jpn).sendStatements(StatementBundle(from: from, statements: [.consent(c)]).derBytes))
            return try LedgerEntry(canonical: reply.outcomes[0].entry)
        }
        // USA relays KOR's genuine consent for JPN: not from its originator.
        let relayed = try await send(try consent("kor-consent-relayed", holder: .jpn, third: .usa), from: .usa)
        #expect(relayed.kind == .itemRefused && relayed.detail.contains("sent by USA"), "\(relayed.detail)")
        // KOR's consent for USA as holder, sent to JPN.
        let otherHolder = try await send(try consent("kor-consent-usa", holder: .usa, third: .jpn), from: .kor)
        #expect(otherHolder.kind == .itemRefused && otherHolder.detail.contains("not JPN"), "\(otherHolder.detail)")
        #expect(try await net[.jpn].store.consents(itemDigest: sealed.manifest.digest).isEmpty)
        let genuine = try await send(try consent("kor-consent-ok", holder: .jpn, third: .usa), from: .kor)
        #expect(genuine.kind == .consentGiven, "\(genuine.detail)")
        #expect(try await net[.jpn].store.consents(itemDigest: sealed.manifest.digest).map(\.id) == ["kor-consent-ok"])
    }

    /// A peer's statement that cannot be kept as it stands (an overlong id,
    /// an id in another party's name) is refused and recorded, and the
    /// statements after it in the same bundle are applied: one bad statement
    /// does not hold up the queue.
    @Test func anUnkeepableStatementIsRefusedWithoutHoldingUpTheRest() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn, .usa])
        defer { Task { await net.stop() } }
        let korKey = try HostilePeerTests.keys(net, .kor).signing, jpnKey = try HostilePeerTests.keys(net, .jpn).signing
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(to: [.jpn, .usa]), "text/plain", Array("q".utf8))])[0]
        let toJPN = try await net[.kor].federation.release(itemID: sealed.manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await ExchangeTests.settled(net[.kor], [toJPN.id])[0].state == .done)
        func consent(_ id: String) throws -> Signed<ConsentBody> {
            try Signed(
                signing: ConsentBody(
                    Consent(
                        id: id, originator: .kor, itemDigest: sealed.manifest.digestHex, holder: .jpn, thirdParty: .usa, purpose: nil, issuedAt: Date(),
                        expiresAt: Date().addingTimeInterval(86_400))), with: korKey)
        }
        let overlong = try consent(String(repeating: "k", count: 201)), fine = try consent("kor-consent-after")
        let reply = try BatchReply(
            canonical: try await net[.kor].transport(to: .jpn).sendStatements(
                StatementBundle(from: .kor, statements: [.consent(overlong), .consent(fine)]).derBytes))
        let outcomes = try reply.outcomes.map { try LedgerEntry(canonical: $0.entry) }
        #expect(outcomes.map(\.kind) == [.itemRefused, .consentGiven], "\(outcomes.map(\.detail))")
        #expect(try await net[.jpn].store.consents(itemDigest: sealed.manifest.digest).map(\.id) == ["kor-consent-after"])
        // A request from JPN under an id in USA's name is refused at KOR.
        let request = ConsentRequestBody(
            id: "usa-consent-request-1", holder: .jpn, originator: .kor, itemDigest: sealed.manifest.digest, thirdParty: .usa, purpose: nil, at: Date(),
            reason: "x")
        let asked = try BatchReply(
            canonical: try await net[.jpn].transport(to: .kor).sendStatements(
                StatementBundle(from: .jpn, statements: [.consentRequest(try Signed(signing: request, with: jpnKey), itemID: sealed.manifest.itemID)]).derBytes))
        let refusal = try LedgerEntry(canonical: asked.outcomes[0].entry)
        #expect(refusal.kind == .itemRefused && refusal.detail.contains("jpn-"), "\(refusal.detail)")
        await #expect(throws: StoreError(.notFound, "")) { _ = try await net[.kor].store.consentRequest("usa-consent-request-1") }
    }

    /// The kind and the item id travel beside a statement's signature: a
    /// bundle whose kind was altered is refused, and the genuine statement
    /// sent after it is still applied (its refusal is not held against the
    /// genuine one, which has the same signed bytes).
    @Test func aStatementWithAnAlteredKindDoesNotSpoilTheGenuineOne() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let korKey = try HostilePeerTests.keys(net, .kor).signing
        let sealed = try await net[.kor].federation.originate([(ExchangeTests.label(to: [.jpn, .usa]), "text/plain", Array("k".utf8))])[0]
        let consent = try Signed(
            signing: ConsentBody(
                Consent(
                    id: "kor-consent-kind", originator: .kor, itemDigest: sealed.manifest.digestHex, holder: .jpn, thirdParty: .usa,
                    purpose: "dprk-nuclear-missile", issuedAt: Date(), expiresAt: Date().addingTimeInterval(86_400))), with: korKey)
        let link = net[.kor].transport(to: .jpn)
        let altered = StatementBundle(from: .kor, statements: [StatementBundle.Statement(kind: .compromiseReport, signed: consent.derBytes)]).derBytes
        let refused = try BatchReply(canonical: try await link.sendStatements(altered))
        #expect(try LedgerEntry(canonical: refused.outcomes[0].entry).kind == .itemRefused)
        let genuine = try BatchReply(canonical: try await link.sendStatements(StatementBundle(from: .kor, statements: [.consent(consent)]).derBytes))
        let entry = try LedgerEntry(canonical: genuine.outcomes[0].entry)
        #expect(entry.kind == .consentGiven, "\(entry.detail)")
    }

    @Test func aStatementAboutAnItemNotYetHeldWaitsForIt() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation
        let korKey = try HostilePeerTests.keys(net, .kor).signing
        let sealed = try await kor.originate([(ExchangeTests.label(to: [.jpn]), "text/plain", Array("early".utf8))])[0]
        let notice = try Signed(
            signing: ReclassificationNotice(
                id: "kor-early", originator: .kor, itemDigest: sealed.manifest.digest, oldLevel: "II", newLevel: "III", at: Date(), reason: "x"), with: korKey)
        // The notice goes first; the item has not been sent yet.
        let queued = try await kor.publish([.reclassification(notice, itemID: sealed.manifest.itemID)], to: [.jpn])
        var waiting = try await net[.kor].store.statementTask(queued[0].id)
        for _ in 0..<300 where waiting.lastError == nil {
            try await Task.sleep(nanoseconds: 20_000_000)
            waiting = try await net[.kor].store.statementTask(queued[0].id)
        }
        #expect(waiting.state != .refused && waiting.state != .done, "deferred, not refused: \(waiting.state) \(waiting.lastError ?? "")")
        #expect(waiting.lastError?.contains("deferred") == true)
        let sent = try await kor.release(itemID: sealed.manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await ExchangeTests.settled(net[.kor], [sent.id])[0].state == .done)
        let acknowledged = try await FederationTests.statementsSettled(net[.kor], [queued[0].id], timeout: 60)
        #expect(acknowledged[0].state == .done)
        #expect(try await net[.jpn].store.item(sealed.manifest.itemID).holding.label.level == "III")
    }
}

@Suite("Shutdown and restart", .serialized) struct ShutdownTests {
    /// A sender shut down gracefully mid-transfer finishes its batches in
    /// flight and leaves nothing claimed; restarted from its directory it
    /// delivers the rest, and the receiver holds every item exactly once.
    @Test func aGracefulShutdownMidTransferLosesAndDuplicatesNothing() async throws {
        let net = try await LocalFederation.start(parties: [.kor, .jpn], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger) { s in
            s.federation.batchSize = 100
            s.federation.pipeline = 2
            s.gossipInterval = 3600
        }
        defer { Task { await net.stop() } }
        var ids: [[UInt8]] = []
        for chunk in 0..<10 {
            ids += try await net[.kor].federation.originate((0..<300).map { (ExchangeTests.label(to: [.jpn]), "text/plain", Array("item \(chunk)-\($0)".utf8)) })
                .map(\.manifest.itemID)
        }
        let queued = try await net[.kor].federation.release(ids, to: .jpn, agreement: "gsomia-kor-jpn-2016").queued
        #expect(queued.count == 3000)
        try await Task.sleep(nanoseconds: 100_000_000)
        await net.shutdown(.kor)
        var states: [QueueState: Int] = [:]
        for t in queued { states[try await net[.kor].store.outboxTask(t.id).state, default: 0] += 1 }
        #expect(states[.claimed] == nil, "a graceful shutdown leaves no batch half sent: \(states)")
        try await net.restart(.kor)
        let done = try await ExchangeTests.settled(net[.kor], queued.map(\.id), timeout: 120)
        #expect(done.allSatisfy { $0.state == .done })
        var held = 0
        var cursor: Int64?
        while true {
            let page = try await net[.jpn].store.holdings(after: cursor, limit: 1000)
            if page.isEmpty { break }
            held += page.count
            cursor = page.last!.sequence
        }
        #expect(held == 3000)
        #expect(try await net[.jpn].store.verify(trust: net[.jpn].ledgerTrust).isIntact)
        #expect(try await net[.kor].store.verify(trust: net[.kor].ledgerTrust).isIntact)
    }

    @Test func aDestroyedItemIsCertifiedToItsOriginator() async throws {
        let net = try await HostilePeerTests.start([.kor, .jpn])
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, jpn = net[.jpn].federation
        let sealed = try await kor.originate([(ExchangeTests.label(to: [.jpn]), "text/plain", Array("destroy after reading".utf8))])[0]
        let sent = try await kor.release(itemID: sealed.manifest.itemID, to: .jpn, agreement: "gsomia-kor-jpn-2016")
        #expect(try await ExchangeTests.settled(net[.kor], [sent.id])[0].state == .done)
        let request = try Signed(
            signing: DestructionRequest(id: "kor-destroy-1", originator: .kor, holder: .jpn, itemDigest: sealed.manifest.digest, at: Date(), reason: "superseded"),
            with: HostilePeerTests.keys(net, .kor).signing)
        let asked = try await kor.publish([.destructionRequest(request, itemID: sealed.manifest.itemID)], to: [.jpn])
        #expect(try await FederationTests.statementsSettled(net[.kor], asked.map(\.id))[0].state == .done)
        let certificate = try Signed(
            signing: DestructionCertificate(
                id: "jpn-cert-1", request: "kor-destroy-1", holder: .jpn, originator: .kor, itemDigest: sealed.manifest.digest, destroyedAt: Date(),
                method: "cryptographic erasure"), with: HostilePeerTests.keys(net, .jpn).signing)
        let certified = try await jpn.destroy(sealed.manifest.itemID, certificate: certificate)
        #expect(try await net[.jpn].store.item(sealed.manifest.itemID).payload == nil)
        #expect(try await FederationTests.statementsSettled(net[.jpn], certified.map(\.id))[0].state == .done)
        let korLedger = try await HostilePeerTests.entries(net[.kor].store, from: 0)
        #expect(korLedger.contains { $0.kind == .destroyed && $0.detail.contains("jpn-cert-1") })
        // A destroyed item cannot be read, or sent again.
        let reader = Reader(name: "analyst", party: .jpn, clearance: "KIMITSU", categories: [])
        #expect(try await jpn.read(sealed.manifest.itemID, by: reader).item == nil)
    }
}

/// A holder's own acts on an item whose originator it has no peer for (an
/// item that came through the hub): the act on its copy is made, and the
/// ledger says who could not be told; a request that only exists to be
/// sent is refused instead.
@Suite("Acts towards a party with no peer here", .serialized) struct UnreachablePartyTests {
    @Test func destructionAndReportsAreMadeAndSayWhoWasNotToldARequestIsRefused() async throws {
        let net = try await LocalFederation.start(parties: [.kor], examples: Fixtures.examplesDirectory, logger: ExchangeTests.logger)
        defer { Task { await net.stop() } }
        let kor = net[.kor].federation, store = net[.kor].store
        // Two of JPN's items, as if they had come through the hub: KOR's node has no peer JPN.
        let jpnKey = try SigningKey.generate(.classic)
        let sealed = try jpnKey.sealOrigin(
            (0..<2).map { (ExchangeTests.label(.jpn, to: [.kor, .usa]), "text/plain", Array("jpn item \($0)".utf8)) }, originator: .jpn, at: Date())
        _ = try await store.storeItems(sealed.map { NewItem($0, source: .received(from: .usa, agreement: "tisa-2014"), at: Date()) }, ledger: .none)
        #expect(try await store.peers().isEmpty)

        let refused = await #expect(throws: FederationError.self) {
            try await kor.requestConsent(itemID: sealed[0].manifest.itemID, thirdParty: .usa, purpose: nil, reason: "the hub asks", by: "Officer Park")
        }
        #expect(refused?.code == .refused && refused?.reason.contains("no peer JPN") == true, "\(String(describing: refused))")
        #expect(try await store.consentRequests(state: nil, itemDigest: nil, limit: 10).isEmpty)

        let destroyed = try await kor.destroy(itemID: sealed[0].manifest.itemID, method: "shredded", request: nil, by: "Officer Park")
        #expect(destroyed.isEmpty)
        #expect(try await store.item(sealed[0].manifest.itemID).holding.status == .destroyed)
        let reported = try await kor.reportCompromise(itemID: sealed[1].manifest.itemID, stage: .suspected, description: "a laptop was lost", by: "Officer Park")
        #expect(reported.isEmpty)
        #expect(try await store.item(sealed[1].manifest.itemID).holding.status == .compromised)
        let size = try await store.size()
        let last = [try await store.entry(at: size - 2), try await store.entry(at: size - 1)]
        #expect(last.map(\.kind) == [.destroyed, .compromiseReported])
        #expect(last.allSatisfy { $0.detail.contains("not sent to JPN") }, "\(last.map(\.detail))")
        #expect(try await store.unacknowledgedStatements(peer: nil).isEmpty)
    }
}
