import Foundation
import LiaisonModel
import LiaisonTesting
import PropertyBased
import Testing

private let kj = "gsomia-kor-jpn-2016"
private let tisa = "tisa-2014"
private func at(_ s: String) -> Date { Fixtures.at(s) }

/// One release request and the expected outcome.
struct ReleaseCase: Sendable, CustomTestStringConvertible {
    var name: String
    var item: ItemFacts
    var holder: Party
    var recipient: Party
    var agreement: String
    var instant: String
    var consents: [Consent] = []
    var expected: Refusal.Code?
    var article: Article?
    var testDescription: String { name }
}

private let secret = Fixtures.item()
private let secretTerminatedBook: AgreementBook = {
    Fixtures.book(replacing: [kj: Fixtures.statements(kj).filter { $0.id != "kor-suspension-2019" }])
}()

@Suite("Release policy (invariant 1)")
struct ReleasePolicyTests {
    static let cases: [ReleaseCase] = [
        .init(name: "originator to a releasable party in force", item: secret, holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2017-09-06T10:00:00+09:00"),
        .init(name: "to itself", item: secret, holder: .kor, recipient: .kor, agreement: kj,
              instant: "2017-09-06T10:00:00+09:00", expected: .sameParty, article: .parties),
        .init(name: "unknown agreement", item: secret, holder: .kor, recipient: .jpn, agreement: "gsomia-kor-xyz",
              instant: "2017-09-06T10:00:00+09:00", expected: .unknownAgreement, article: .parties),
        .init(name: "recipient not a party", item: secret, holder: .kor, recipient: .usa, agreement: kj,
              instant: "2017-09-06T10:00:00+09:00", expected: .notAParty, article: .parties),
        .init(name: "before entry into force", item: secret, holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2016-11-01T10:00:00+09:00", expected: .notInForce, article: .lifecycle),
        .init(name: "TOP SECRET has no row", item: Fixtures.item(level: "I"), holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2017-09-06T10:00:00+09:00", expected: .noEquivalence, article: .equivalence),
        .init(name: "level not in the scheme", item: Fixtures.item(level: "IV"), holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2017-09-06T10:00:00+09:00", expected: .unknownLevel, article: .equivalence),
        .init(name: "not releasable to the recipient", item: Fixtures.item(releasableTo: [.usa]), holder: .kor, recipient: .jpn,
              agreement: kj, instant: "2017-09-06T10:00:00+09:00", expected: .notReleasable, article: .thirdParty),
        .init(name: "notice pending: still in force", item: secret, holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2019-09-01T10:00:00+09:00"),
        .init(name: "notice suspended: still in force", item: secret, holder: .kor, recipient: .jpn, agreement: kj,
              instant: "2019-11-24T10:00:00+09:00"),
        .init(name: "holder not originator, no consent", item: Fixtures.item(releasableTo: [.jpn, .usa]), holder: .jpn,
              recipient: .usa, agreement: "gsomia-jpn-usa-2007", instant: "2017-09-06T10:00:00+09:00",
              expected: .originatorNotParty, article: .thirdParty),
        .init(name: "hub: spoke to spoke directly", item: secret, holder: .kor, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", expected: .notOnHubRoute, article: .hub),
        .init(name: "hub: originator to hub", item: secret, holder: .kor, recipient: .usa, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00"),
        .init(name: "hub: a holder passes another's item to the hub without consent", item: Fixtures.item(originator: .jpn, level: "HI",
              releasableTo: [.kor, .usa]), holder: .kor, recipient: .usa, agreement: tisa, instant: "2019-11-24T10:00:00+09:00",
              expected: .consentRequired, article: .thirdParty),
        .init(name: "hub: a holder passes another's item to the hub with its consent", item: Fixtures.item(originator: .jpn, level: "HI",
              releasableTo: [.kor, .usa]), holder: .kor, recipient: .usa, agreement: tisa, instant: "2019-11-24T10:00:00+09:00",
              consents: [Fixtures.consent(for: Fixtures.item(originator: .jpn, level: "HI", releasableTo: [.kor, .usa]), holder: .kor, thirdParty: .usa)]),
        .init(name: "hub: a holder passes another's item to a spoke", item: Fixtures.item(originator: .jpn, level: "HI",
              releasableTo: [.kor, .usa]), holder: .usa, recipient: .kor, agreement: tisa, instant: "2019-11-24T10:00:00+09:00",
              expected: .consentRequired, article: .thirdParty),
        .init(name: "hub: onward without consent", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", expected: .consentRequired, article: .thirdParty),
        .init(name: "hub: onward with consent", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret)]),
        .init(name: "hub: expired consent", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, expires: "2019-11-01T00:00:00Z")],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent not yet valid", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, issued: "2019-12-01T00:00:00Z")],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent for another party", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, thirdParty: .kor)],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent for another holder", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, holder: .jpn)],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent for another item", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: Fixtures.item(digest: String(repeating: "cd", count: 32)))],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent from someone else than the originator", item: secret, holder: .usa, recipient: .jpn,
              agreement: tisa, instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, originator: .usa)],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: consent for another purpose", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00", consents: [Fixtures.consent(for: secret, purpose: "joint-training")],
              expected: .consentInvalid, article: .thirdParty),
        .init(name: "hub: one bad and one good consent", item: secret, holder: .usa, recipient: .jpn, agreement: tisa,
              instant: "2019-11-24T10:00:00+09:00",
              consents: [Fixtures.consent(for: secret, thirdParty: .kor), Fixtures.consent(for: secret)]),
        .init(name: "hub: purpose out of scope", item: Fixtures.item(purpose: "joint-training"), holder: .kor, recipient: .usa,
              agreement: tisa, instant: "2019-11-24T10:00:00+09:00", expected: .purposeOutOfScope, article: .purpose),
        .init(name: "hub: no purpose stated", item: Fixtures.item(purpose: nil), holder: .kor, recipient: .usa,
              agreement: tisa, instant: "2019-11-24T10:00:00+09:00", expected: .purposeOutOfScope, article: .purpose),
        .init(name: "hub: the hub's own item", item: Fixtures.item(originator: .usa, level: "S", releasableTo: [.jpn]),
              holder: .usa, recipient: .jpn, agreement: tisa, instant: "2019-11-24T10:00:00+09:00",
              expected: .notOnHubRoute, article: .hub),
        .init(name: "hub: TOP SECRET refused on the TISA table", item: Fixtures.item(level: "I"), holder: .kor, recipient: .usa,
              agreement: tisa, instant: "2019-11-24T10:00:00+09:00", expected: .noEquivalence, article: .equivalence),
        .init(name: "hub: before TISA", item: secret, holder: .kor, recipient: .usa, agreement: tisa,
              instant: "2014-06-01T10:00:00+09:00", expected: .notInForce, article: .lifecycle),
        .init(name: "bilateral TOP SECRET KOR to USA", item: Fixtures.item(level: "I", releasableTo: [.usa]), holder: .kor,
              recipient: .usa, agreement: "gsomia-kor-usa-1987", instant: "2019-11-24T10:00:00+09:00"),
    ]

    @Test(arguments: cases)
    func decides(c: ReleaseCase) {
        let request = ReleaseRequest(
            item: c.item, holder: c.holder, recipient: c.recipient, agreement: c.agreement, instant: at(c.instant),
            consents: c.consents)
        let d = ReleasePolicy.evaluate(request, book: Fixtures.book)
        #expect(d.refusal?.code == c.expected, "\(d)")
        if let article = c.article { #expect(d.refusal?.article == article) }
        if let r = d.refusal { #expect(!r.reason.isEmpty) }
    }

    /// Invariant 4: after termination nothing new moves.
    @Test func nothingMovesAfterTermination() {
        let r = ReleaseRequest(item: secret, holder: .kor, recipient: .jpn, agreement: kj, instant: at("2019-11-23T00:00:00+09:00"))
        let d = ReleasePolicy.evaluate(r, book: secretTerminatedBook)
        #expect(d.refusal?.code == .notInForce)
        #expect(d.refusal?.reason.contains("stays protected") == true)
        var before = r
        before.instant = at("2019-11-22T23:59:59+09:00")
        #expect(ReleasePolicy.evaluate(before, book: secretTerminatedBook).isPermitted)
    }

    /// TISA rides on the bilaterals: a hop needs the one binding its parties.
    @Test func aHubHopNeedsTheUnderlyingAgreementInForce() {
        let usaNotice = LifecycleStatement(
            id: "usa-out", agreement: "gsomia-kor-usa-1987", party: .usa, at: at("2020-01-01T00:00:00+09:00"),
            act: .terminationNotice(effective: nil))
        let book = Fixtures.book(replacing: ["gsomia-kor-usa-1987": Fixtures.statements("gsomia-kor-usa-1987") + [usaNotice]])
        let r = ReleaseRequest(item: secret, holder: .kor, recipient: .usa, agreement: tisa, instant: at("2020-06-01T00:00:00+09:00"))
        #expect(ReleasePolicy.evaluate(r, book: book).refusal?.code == .underlyingNotInForce)
        // The Japan–US leg is unaffected.
        let j = ReleaseRequest(
            item: Fixtures.item(originator: .jpn, level: "GOKUHI", releasableTo: [.usa, .kor]), holder: .jpn, recipient: .usa,
            agreement: tisa, instant: at("2020-06-01T00:00:00+09:00"))
        #expect(ReleasePolicy.evaluate(j, book: book).isPermitted)
    }

    @Test func onwardReleaseCanBeProhibitedOutright() {
        var a = Fixtures.tisa
        a.thirdPartyRule = .prohibited
        var book = Fixtures.book
        book.insert(AgreementLifecycle(agreement: a, statements: Fixtures.statements(tisa)))
        let r = ReleaseRequest(
            item: secret, holder: .usa, recipient: .jpn, agreement: tisa, instant: at("2019-11-24T10:00:00+09:00"),
            consents: [Fixtures.consent(for: secret)])
        #expect(ReleasePolicy.evaluate(r, book: book).refusal?.code == .onwardReleaseProhibited)
    }

    /// Property: release is never permitted to a party the originator did not
    /// mark releasable, nor by a non-originator without a consent naming the
    /// recipient — whatever the agreement, parties, level, instant and consents.
    @Test func neverToANonReleasablePartyNorWithoutConsent() async {
        let gen = Gen.int(in: 0...Int(Int32.max)).array(of: 12)
        await propertyCheck(count: 2000, input: gen) { n in _ = releaseProperty(n) }
    }

    /// The property above is not vacuous: its generator reaches both outcomes.
    @Test func thePropertyGeneratorReachesPermittedAndRefusedCases() {
        var rng = SplitMix(seed: 42)
        var permitted = 0, refused = 0
        for _ in 0..<3000 {
            let n = (0..<12).map { _ in Int(rng.next() % UInt64(Int32.max)) }
            if releaseProperty(n) { permitted += 1 } else { refused += 1 }
        }
        #expect(permitted > 60, "only \(permitted) permitted")
        #expect(refused > 1000)
    }
}

/// Builds a random release from 12 numbers, checks invariant 1 on it when
/// it is permitted, and says whether it was.
private func releaseProperty(_ n: [Int]) -> Bool {
    let parties: [Party] = [.kor, .jpn, .usa]
    let levels = ["I", "II", "III", "GOKUHI", "HI", "KIMITSU", "TOKUTEI", "TS", "S", "C"]
    let originator = parties[n[0] % 3]
    let own = ["KOR": ["I", "II", "III"], "JPN": ["KIMITSU", "GOKUHI", "TOKUTEI", "HI"], "USA": ["TS", "S", "C"]][originator.code]!
    // Mostly the originator's own levels, sometimes any code at all.
    let level = n[2] % 8 == 0 ? levels[(n[2] / 8) % levels.count] : own[(n[2] / 8) % own.count]
    let releasable = Set(parties.enumerated().filter { (n[1] >> $0.offset) & 1 == 1 }.map(\.element))
    let item = Fixtures.item(
        originator: originator, level: level, releasableTo: releasable,
        purpose: n[3] % 4 == 0 ? nil : "dprk-nuclear-missile")
    let holder = parties[n[4] % 3]
    let recipient = parties[n[5] % 3]
    let agreement = ExampleSetIDs.all[n[6] % 4]
    let instant = at("2014-01-01T00:00:00Z").addingTimeInterval(Double(n[7] % 400_000_000))
    var consents: [Consent] = []
    for k in 0..<(n[8] % 3) {
        let m = n[9 + k]
        consents.append(
            Fixtures.consent(
                for: m % 5 == 0 ? Fixtures.item(digest: String(repeating: "ef", count: 32)) : item,
                holder: parties[m % 3], thirdParty: parties[(m / 3) % 3],
                issued: "2014-01-01T00:00:00Z", expires: m % 2 == 0 ? "2030-01-01T00:00:00Z" : "2016-01-01T00:00:00Z",
                originator: m % 7 == 0 ? parties[(m / 9) % 3] : nil))
    }
    let r = ReleaseRequest(
        item: item, holder: holder, recipient: recipient, agreement: agreement, instant: instant, consents: consents)
    guard ReleasePolicy.evaluate(r, book: Fixtures.book).isPermitted else { return false }
    #expect(item.label.releasableTo.contains(recipient))
    #expect(holder != recipient)
    #expect(Fixtures.book[agreement]!.isInForce(at: instant))
    #expect(!Fixtures.agreement(agreement).equivalence.equivalents(of: item.label.level, from: originator, to: recipient).isEmpty)
    if holder != originator {
        #expect(consents.contains {
            $0.originator == originator && $0.holder == holder && $0.thirdParty == recipient
                && $0.itemDigest == item.digest && $0.issuedAt <= instant && instant < $0.expiresAt
        })
    }
    return true
}
