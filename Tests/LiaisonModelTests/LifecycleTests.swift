import Foundation
import LiaisonModel
import LiaisonTesting
import PropertyBased
import Testing

private let kjID = "gsomia-kor-jpn-2016"
private func at(_ s: String) -> Date { Fixtures.at(s) }

private func statement(
    _ id: String, _ party: Party, _ time: String, _ act: LifecycleStatement.Act, agreement: String = kjID
) -> LifecycleStatement {
    LifecycleStatement(id: id, agreement: agreement, party: party, at: at(time), act: act)
}

/// The two 2016 signatures: in force on 23 Nov 2016.
private let signatures = [
    statement("kor-sig", .kor, "2016-11-23T10:00:00+09:00", .entryIntoForce),
    statement("jpn-sig", .jpn, "2016-11-23T10:00:00+09:00", .entryIntoForce),
]
private let notice2019 = statement(
    "kor-notice", .kor, "2019-08-23T16:00:00+09:00", .terminationNotice(effective: at("2019-11-23T00:00:00+09:00")))
private let suspension2019 = statement(
    "kor-susp", .kor, "2019-11-22T18:00:00+09:00", .noticeSuspension(notice: "kor-notice", condition: "terminable at any time"))

private func life(_ statements: [LifecycleStatement], _ agreement: Agreement = Fixtures.kj) -> AgreementLifecycle {
    AgreementLifecycle(agreement: agreement, statements: statements)
}

@Suite("Lifecycle engine (Art 21)")
struct LifecycleTests {
    /// The real 2016–2019 timeline, from the shipped statements file.
    @Test(arguments: [
        ("2016-11-22T23:59:59+09:00", AgreementStatus.Phase.pending),
        ("2016-11-23T10:00:00+09:00", .inForce),
        ("2018-05-01T00:00:00+09:00", .inForce),
        ("2019-08-23T15:59:59+09:00", .inForce),
        ("2019-08-23T16:00:00+09:00", .noticeGiven),
        ("2019-11-22T17:59:59+09:00", .noticeGiven),
        ("2019-11-22T18:00:00+09:00", .noticeSuspended),
        ("2019-11-23T00:00:00+09:00", .noticeSuspended),
        ("2026-11-29T12:00:00+09:00", .noticeSuspended),
    ])
    func realTimeline(instant: String, phase: AgreementStatus.Phase) {
        let lifecycle = Fixtures.book[kjID]!
        #expect(lifecycle.refused.isEmpty)
        let s = lifecycle.status(at: at(instant))
        #expect(s.phase == phase)
        #expect(s.isInForce == (phase != .pending))
    }

    @Test func realTimelineDetails() {
        let lifecycle = Fixtures.book[kjID]!
        let before = lifecycle.status(at: at("2019-06-01T12:00:00+09:00"))
        #expect(before.currentTerm == DateInterval(start: at("2018-11-23T00:00:00+09:00"), end: at("2019-11-23T00:00:00+09:00")))
        #expect(before.nextNoticeDeadline == at("2019-08-25T00:00:00+09:00"))
        let first = lifecycle.status(at: at("2017-01-01T00:00:00+09:00"))
        #expect(first.currentTerm?.start == at("2016-11-23T10:00:00+09:00"))
        #expect(first.enteredIntoForce == at("2016-11-23T10:00:00+09:00"))
        let noticed = lifecycle.status(at: at("2019-09-01T00:00:00+09:00"))
        #expect(noticed.notice?.effective == at("2019-11-23T00:00:00+09:00"))
        #expect(noticed.scheduledTermination == at("2019-11-23T00:00:00+09:00"))
        #expect(noticed.nextNoticeDeadline == nil)
        #expect(noticed.cause.statements == ["kor-notice-2019"])
        let suspended = lifecycle.status(at: at("2019-11-24T00:00:00+09:00"))
        #expect(suspended.suspension?.originalEffective == at("2019-11-23T00:00:00+09:00"))
        #expect(suspended.scheduledTermination == nil)
        #expect(suspended.cause.statements == ["kor-suspension-2019"])
        let timeline = lifecycle.timeline(through: at("2020-12-01T00:00:00+09:00"))
        #expect(timeline.filter { $0.cause.description.hasPrefix("renewed") }.count == 2)  // 2017, 2018
        #expect(timeline.contains { $0.at == at("2020-11-23T00:00:00+09:00") && $0.phase == .noticeSuspended })
        #expect(timeline.map(\.at) == timeline.map(\.at).sorted())
    }

    @Test func withoutTheSuspensionTheAgreementTerminatesAtTheAnniversary() {
        let l = life(signatures + [notice2019])
        #expect(l.status(at: at("2019-11-22T23:59:59+09:00")).phase == .noticeGiven)
        let t = l.status(at: at("2019-11-23T00:00:00+09:00"))
        #expect(t.phase == .terminated)
        #expect(t.terminatedAt == at("2019-11-23T00:00:00+09:00"))
        #expect(t.cause.statements == ["kor-notice"])
        #expect(!t.isInForce)
    }

    /// The deadline is 90 calendar days before the anniversary, exclusive:
    /// 24 Aug is in time for 23 Nov, 25 Aug counts for the next year.
    @Test(arguments: [
        ("2019-08-24T23:59:59+09:00", "2019-11-23T00:00:00+09:00"),
        ("2019-08-25T00:00:00+09:00", "2020-11-23T00:00:00+09:00"),
        ("2019-11-22T23:00:00+09:00", "2020-11-23T00:00:00+09:00"),
        ("2017-01-05T00:00:00+09:00", "2017-11-23T00:00:00+09:00"),
        ("2019-08-24T15:00:00Z", "2020-11-23T00:00:00+09:00"),  // 25 Aug 00:00 in Seoul
    ])
    func noticeTakesEffectAtTheFirstAnniversaryItMeets(given: String, effective: String) {
        let l = life(signatures + [statement("n", .jpn, given, .terminationNotice(effective: nil))])
        #expect(l.refused.isEmpty)
        #expect(l.status(at: at(given)).notice?.effective == at(effective))
    }

    @Test func aStatedEffectiveInstantMustBeTheOneTheTermGives() {
        let wrong = statement(
            "n", .kor, "2019-08-26T10:00:00+09:00", .terminationNotice(effective: at("2019-11-23T00:00:00+09:00")))
        let l = life(signatures + [wrong])
        #expect(l.refused.map(\.refusal.code) == [.wrongEffectiveInstant])
        #expect(l.refused[0].refusal.reason.contains("2020-11-23T00:00:00+09:00"))
        #expect(l.status(at: at("2019-12-01T00:00:00+09:00")).phase == .inForce)
    }

    /// A suspension lifted after the original effective date terminates at
    /// the lifting, never retroactively at the original date.
    @Test func liftingAfterTheOriginalDateTerminatesAtOnce() {
        let lift = statement("lift", .kor, "2020-06-01T09:00:00+09:00", .suspensionLifted(notice: "kor-notice", effective: nil))
        let l = life(signatures + [notice2019, suspension2019, lift])
        #expect(l.refused.isEmpty)
        #expect(l.status(at: at("2020-06-01T08:59:59+09:00")).phase == .noticeSuspended)
        let s = l.status(at: at("2020-06-01T09:00:00+09:00"))
        #expect(s.phase == .terminated)
        #expect(s.terminatedAt == at("2020-06-01T09:00:00+09:00"))
        #expect(s.cause.statements == ["lift"])
        #expect(l.status(at: at("2019-12-01T00:00:00+09:00")).isInForce)
    }

    @Test func liftingAtAStatedInstantSchedulesTermination() {
        let lift = statement(
            "lift", .kor, "2020-06-01T09:00:00+09:00",
            .suspensionLifted(notice: "kor-notice", effective: at("2020-07-01T00:00:00+09:00")))
        let l = life(signatures + [notice2019, suspension2019, lift])
        let mid = l.status(at: at("2020-06-15T00:00:00+09:00"))
        #expect(mid.phase == .noticeGiven)
        #expect(mid.scheduledTermination == at("2020-07-01T00:00:00+09:00"))
        #expect(l.status(at: at("2020-07-01T00:00:00+09:00")).phase == .terminated)
    }

    @Test func aRetroactiveLiftIsRefused() {
        let lift = statement(
            "lift", .kor, "2020-06-01T09:00:00+09:00",
            .suspensionLifted(notice: "kor-notice", effective: at("2019-11-23T00:00:00+09:00")))
        let l = life(signatures + [notice2019, suspension2019, lift])
        #expect(l.refused.map(\.refusal.code) == [.retroactive])
        #expect(l.status(at: at("2021-01-01T00:00:00+09:00")).phase == .noticeSuspended)
    }

    @Test func withdrawalRestoresRenewal() {
        let withdraw = statement("wd", .kor, "2020-02-01T00:00:00+09:00", .noticeWithdrawal(notice: "kor-notice"))
        let l = life(signatures + [notice2019, suspension2019, withdraw])
        let s = l.status(at: at("2020-12-01T00:00:00+09:00"))
        #expect(s.phase == .inForce)
        #expect(s.currentTerm == DateInterval(start: at("2020-11-23T00:00:00+09:00"), end: at("2021-11-23T00:00:00+09:00")))
        #expect(s.nextNoticeDeadline == at("2021-08-25T00:00:00+09:00"))
        #expect(s.notice == nil && s.suspension == nil)
    }

    @Test(arguments: [
        // (extra statements, expected refusal codes)
        ([statement("x", .usa, "2017-01-01T00:00:00+09:00", .terminationNotice(effective: nil))], [Refusal.Code.notAParty]),
        ([statement("x", .kor, "2017-01-01T00:00:00+09:00", .terminationNotice(effective: nil), agreement: "other")], [.wrongAgreement]),
        ([statement("x", .kor, "2016-01-01T00:00:00+09:00", .terminationNotice(effective: nil))], [.invalidInState]),
        ([statement("x", .kor, "2017-01-01T00:00:00+09:00", .entryIntoForce)], [.invalidInState]),
        ([notice2019, statement("x", .jpn, "2019-09-01T00:00:00+09:00", .terminationNotice(effective: nil))], [.invalidInState]),
        ([notice2019, statement("x", .jpn, "2019-09-01T00:00:00+09:00", .noticeSuspension(notice: "kor-notice", condition: nil))], [.invalidInState]),
        ([notice2019, statement("x", .kor, "2019-09-01T00:00:00+09:00", .noticeSuspension(notice: "other", condition: nil))], [.wrongNotice]),
        ([notice2019, statement("x", .kor, "2019-09-01T00:00:00+09:00", .suspensionLifted(notice: "kor-notice", effective: nil))], [.invalidInState]),
        ([notice2019, suspension2019, statement("x", .kor, "2019-12-01T00:00:00+09:00", .noticeSuspension(notice: "kor-notice", condition: nil))], [.invalidInState]),
        ([notice2019, suspension2019, statement("x", .jpn, "2019-12-01T00:00:00+09:00", .noticeWithdrawal(notice: "kor-notice"))], [.invalidInState]),
        ([statement("x", .kor, "2017-01-01T00:00:00+09:00", .noticeWithdrawal(notice: "kor-notice"))], [.invalidInState]),
        ([notice2019, statement("x", .jpn, "2020-01-01T00:00:00+09:00", .terminationNotice(effective: nil))], [.afterTermination]),
        ([notice2019, statement("x", .kor, "2019-11-23T00:00:00+09:00", .noticeWithdrawal(notice: "kor-notice"))], [.afterTermination]),
    ])
    func invalidStatementsAreRefusedAndChangeNothing(extra: [LifecycleStatement], codes: [Refusal.Code]) {
        let l = life(signatures + extra)
        #expect(l.refused.map(\.refusal.code) == codes)
        #expect(l.refused.allSatisfy { $0.refusal.article == .lifecycle && !$0.refusal.reason.isEmpty })
        // The refused statements change nothing: same history as without them.
        let refusedIDs = Set(l.refused.map(\.statement.id))
        let without = life(signatures + extra.filter { !refusedIDs.contains($0.id) })
        #expect(l.events == without.events)
    }

    @Test func entryWaitsForEveryParty() {
        let l = life([signatures[0]])
        let s = l.status(at: at("2017-01-01T00:00:00+09:00"))
        #expect(s.phase == .pending)
        #expect(s.notified == [.kor])
        #expect(s.cause.description.contains("JPN"))
        let later = life([signatures[0], statement("jpn-late", .jpn, "2016-12-01T00:00:00+09:00", .entryIntoForce)])
        #expect(later.status(at: at("2016-12-01T00:00:00+09:00")).enteredIntoForce == at("2016-12-01T00:00:00+09:00"))
        // Anniversaries count from the later notification's date.
        #expect(later.status(at: at("2017-01-01T00:00:00+09:00")).currentTerm?.end == at("2017-12-01T00:00:00+09:00"))
    }

    @Test func exactDuplicatesCountOnceAndConflictingIDsAreRefused() {
        let l = life(signatures + signatures + [notice2019, notice2019])
        #expect(l.refused.isEmpty)
        #expect(l.accepted.count == 3)
        let conflicting = statement("kor-notice", .kor, "2019-08-20T16:00:00+09:00", .terminationNotice(effective: nil))
        let c = life(signatures + [notice2019, conflicting])
        #expect(c.refused.map(\.refusal.code) == [.conflictingStatement, .conflictingStatement])
        #expect(c.status(at: at("2019-12-01T00:00:00+09:00")).phase == .inForce)
    }

    @Test func amendmentNeedsEveryPartyToConsentToTheSameText() {
        let kor = statement("a-kor", .kor, "2018-01-10T00:00:00+09:00", .amendment(proposal: "am1", summary: "Add Annex B", effective: at("2018-03-01T00:00:00+09:00")))
        let jpnOther = statement("a-jpn-x", .jpn, "2018-01-12T00:00:00+09:00", .amendment(proposal: "am1", summary: "Add Annex C", effective: at("2018-03-01T00:00:00+09:00")))
        let jpn = statement("a-jpn", .jpn, "2018-01-15T00:00:00+09:00", .amendment(proposal: "am1", summary: "Add Annex B", effective: at("2018-03-01T00:00:00+09:00")))
        let korAgain = statement("a-kor-2", .kor, "2018-01-16T00:00:00+09:00", .amendment(proposal: "am1", summary: "Add Annex B", effective: at("2018-03-01T00:00:00+09:00")))
        let l = life(signatures + [kor, jpnOther, jpn, korAgain])
        #expect(l.refused.map(\.refusal.code) == [.mismatchedProposal, .invalidInState])
        #expect(l.status(at: at("2018-02-01T00:00:00+09:00")).amendments.isEmpty)
        let s = l.status(at: at("2018-03-01T00:00:00+09:00"))
        #expect(s.amendments.map(\.proposal) == ["am1"])
        #expect(s.amendments[0].statements.sorted() == ["a-jpn", "a-kor"])
        #expect(s.phase == .inForce)
        let dup = life(signatures + [kor, statement("a-kor-b", .kor, "2018-01-11T00:00:00+09:00", .amendment(proposal: "am1", summary: "Add Annex B", effective: at("2018-03-01T00:00:00+09:00")))])
        #expect(dup.refused.map(\.refusal.code) == [.duplicateConsent])
    }

    @Test func mutualTerminationTakesEffectWhenAllConsentedAndAtTheStatedInstant() {
        let e = at("2018-06-01T00:00:00+09:00")
        let kor = statement("mt-kor", .kor, "2018-01-10T00:00:00+09:00", .mutualTermination(proposal: "mt", effective: e))
        let jpn = statement("mt-jpn", .jpn, "2018-02-10T00:00:00+09:00", .mutualTermination(proposal: "mt", effective: e))
        let l = life(signatures + [kor, jpn])
        #expect(l.status(at: at("2018-05-31T23:59:59+09:00")).phase == .inForce)
        #expect(l.status(at: at("2018-05-31T23:59:59+09:00")).scheduledTermination == e)
        let s = l.status(at: e)
        #expect(s.phase == .terminated)
        #expect(s.cause.statements.sorted() == ["mt-jpn", "mt-kor"])
        // Only one party's consent: nothing happens.
        #expect(life(signatures + [kor]).status(at: at("2019-01-01T00:00:00+09:00")).phase == .inForce)
    }

    @Test func indefiniteAgreementsEndTheNoticePeriodAfterNotice() {
        let a = Fixtures.agreement("gsomia-kor-usa-1987")
        let sigs = Fixtures.statements(a.id)
        let n = LifecycleStatement(
            id: "usa-n", agreement: a.id, party: .usa, at: at("2020-01-10T12:00:00+09:00"), act: .terminationNotice(effective: nil))
        let l = AgreementLifecycle(agreement: a, statements: sigs + [n])
        #expect(l.status(at: at("2020-01-10T12:00:00+09:00")).notice?.effective == at("2020-04-09T12:00:00+09:00"))
        #expect(l.status(at: at("2020-04-09T12:00:00+09:00")).phase == .terminated)
        #expect(l.status(at: at("2019-01-01T00:00:00+09:00")).currentTerm == nil)
    }

    /// The same statements in any order give the same history, whatever
    /// mix of valid and invalid acts they are.
    @Test func evaluationDoesNotDependOnArrivalOrder() async {
        let gen = Gen.int(in: 0...(1 << 20)).array(of: 1...14)
        await propertyCheck(count: 300, input: gen, Gen.int(in: 0...Int.max)) { codes, seed in
            let statements = randomStatements(codes)
            var rng = SplitMix(seed: UInt64(truncatingIfNeeded: seed))
            let shuffled = (statements + statements.prefix(2)).shuffled(using: &rng)
            let a = life(statements)
            let b = life(shuffled)
            let c = life(statements.reversed())
            #expect(a.accepted == b.accepted && a.accepted == c.accepted)
            #expect(a.refused == b.refused && a.refused == c.refused)
            #expect(a.events == b.events && a.events == c.events)
        }
    }

    /// No statement changes the state before it was made.
    @Test func nothingIsRetroactive() async {
        let gen = Gen.int(in: 0...(1 << 20)).array(of: 1...14)
        await propertyCheck(count: 200, input: gen) { codes in
            let statements = randomStatements(codes)
            let full = life(statements)
            for s in statements {
                let earlier = life(statements.filter { $0.at < s.at })
                let probe = s.at.addingTimeInterval(-1)
                #expect(full.status(at: probe) == earlier.status(at: probe))
            }
        }
    }
}

/// Random statements on the Korea–Japan agreement from small alphabets, so
/// that collisions (same instant, same notice) are frequent.
private func randomStatements(_ codes: [Int]) -> [LifecycleStatement] {
    let parties: [Party] = [.kor, .jpn, .usa]
    let base = at("2016-11-20T00:00:00+09:00")
    return codes.enumerated().map { i, code in
        var c = code
        func next(_ n: Int) -> Int { defer { c /= n }; return c % n }
        let kind = next(8)
        let party = kind == 0 || kind == 7 ? [Party.kor, .jpn][next(2)] : parties[next(3)]
        let day = next(40) * 45
        let instant = base.addingTimeInterval(Double(day) * 86_400)
        let ref = "s\(next(max(codes.count, 1)))"
        let eff: Date? = next(3) == 0 ? instant.addingTimeInterval(Double(next(4)) * 30 * 86_400) : nil
        let act: LifecycleStatement.Act =
            switch kind {
            case 0, 7: .entryIntoForce
            case 1: .terminationNotice(effective: nil)
            case 2: .noticeSuspension(notice: ref, condition: nil)
            case 3: .suspensionLifted(notice: ref, effective: eff)
            case 4: .noticeWithdrawal(notice: ref)
            case 5: .amendment(proposal: "p\(next(2))", summary: "text", effective: eff)
            default: .mutualTermination(proposal: "m", effective: eff)
            }
        return LifecycleStatement(id: "s\(i)", agreement: kjID, party: party, at: instant, act: act)
    }
}

