import Foundation
import LiaisonModel
import LiaisonTesting
import PropertyBased
import Testing

private func at(_ s: String) -> Date { Fixtures.at(s) }
private let missile = LiaisonModel.Category(tag: "Compartment", kind: .restrictive, values: ["MISSILE", "SIGINT"])
private let community = LiaisonModel.Category(tag: "Community", kind: .permissive, values: ["NAVY", "AIR"])
private let note = LiaisonModel.Category(tag: "Handling", kind: .informative, values: ["EYES-ONLY-BRIEFING"])
private let both: Set<CategoryValue> = [.init(tag: "Compartment", value: "MISSILE"), .init(tag: "Compartment", value: "SIGINT")]
private let labelledItem = Fixtures.item(categories: [missile, community, note])

struct AccessCase: Sendable, CustomTestStringConvertible {
    var name: String
    var reader: Reader
    var node: Party = .jpn
    var item: ItemFacts = labelledItem
    var instant = "2018-01-01T00:00:00+09:00"
    var expected: Refusal.Code?
    var testDescription: String { name }
}

@Suite("Access policy (invariant 3, Art 7)")
struct AccessPolicyTests {
    static let cases: [AccessCase] = [
        .init(name: "equivalent clearance and categories", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", categories: both.union([.init(tag: "Community", value: "AIR")]))),
        .init(name: "same-tier clearance (特定秘密)", reader: Reader(name: "a", party: .jpn, clearance: "TOKUTEI", categories: both.union([.init(tag: "Community", value: "NAVY")]))),
        .init(name: "higher clearance", reader: Reader(name: "a", party: .jpn, clearance: "KIMITSU", categories: both.union([.init(tag: "Community", value: "NAVY")]))),
        .init(name: "clearance below the equivalent", reader: Reader(name: "a", party: .jpn, clearance: "HI", categories: both.union([.init(tag: "Community", value: "NAVY")])), expected: .clearanceTooLow),
        .init(name: "rank never suffices", reader: Reader(name: "gen", party: .jpn, clearance: "HI", categories: both.union([.init(tag: "Community", value: "NAVY")]), roles: Set(Role.allCases)), expected: .clearanceTooLow),
        .init(name: "one restrictive value missing", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", categories: [.init(tag: "Compartment", value: "MISSILE"), .init(tag: "Community", value: "NAVY")]), expected: .missingRestrictiveCategory),
        .init(name: "no permissive value", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", categories: both), expected: .missingPermissiveCategory),
        .init(name: "value under another tag does not count", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", categories: both.union([.init(tag: "Compartment", value: "NAVY")])), expected: .missingPermissiveCategory),
        .init(name: "expired clearance", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", clearanceExpires: at("2017-12-31T00:00:00+09:00"), categories: both.union([.init(tag: "Community", value: "NAVY")])), expected: .clearanceExpired),
        .init(name: "disabled account", reader: Reader(name: "a", party: .jpn, clearance: "GOKUHI", categories: both.union([.init(tag: "Community", value: "NAVY")]), disabled: true), expected: .accountDisabled),
        .init(name: "reader of another party", reader: Reader(name: "a", party: .usa, clearance: "TS", categories: both.union([.init(tag: "Community", value: "NAVY")])), expected: .wrongNode),
        .init(name: "clearance code not in the local scheme", reader: Reader(name: "a", party: .jpn, clearance: "II", categories: both.union([.init(tag: "Community", value: "NAVY")])), expected: .clearanceTooLow),
        .init(name: "originator's own reader, own scheme", reader: Reader(name: "k", party: .kor, clearance: "II", categories: both.union([.init(tag: "Community", value: "NAVY")])), node: .kor),
        .init(name: "originator's own reader below", reader: Reader(name: "k", party: .kor, clearance: "III", categories: both.union([.init(tag: "Community", value: "NAVY")])), node: .kor, expected: .clearanceTooLow),
        .init(name: "an unmapped level held by the receiver", reader: Reader(name: "a", party: .jpn, clearance: "KIMITSU", categories: both.union([.init(tag: "Community", value: "NAVY")])), item: Fixtures.item(level: "I", categories: [missile, community]), expected: .noEquivalence),
        .init(name: "no categories on the item", reader: Reader(name: "a", party: .jpn, clearance: "HI"), item: Fixtures.item(level: "III")),
    ]

    @Test(arguments: cases)
    func decides(c: AccessCase) {
        let scheme = Fixtures.scheme(c.node)
        let d = AccessPolicy.evaluate(
            AccessRequest(reader: c.reader, item: c.item, node: c.node, localScheme: scheme, agreement: Fixtures.kj, instant: at(c.instant)))
        #expect(d.refusal?.code == c.expected, "\(d)")
        if let r = d.refusal { #expect(r.article == .access || r.article == .equivalence) }
    }

    /// Invariant 4: termination changes nothing for items already held.
    @Test func protectionSurvivesTermination() {
        let low = Reader(name: "low", party: .jpn, clearance: "HI", categories: both.union([.init(tag: "Community", value: "NAVY")]))
        for instant in ["2018-01-01T00:00:00+09:00", "2030-01-01T00:00:00+09:00"] {
            let d = AccessPolicy.evaluate(
                AccessRequest(reader: low, item: labelledItem, node: .jpn, localScheme: Fixtures.scheme(.jpn), agreement: Fixtures.kj, instant: at(instant)))
            #expect(d.refusal?.code == .clearanceTooLow)
        }
    }

    /// Property: access is never granted below the equivalent clearance or
    /// without every restrictive value and one value of each permissive category.
    @Test func neverBelowClearanceNorWithoutNeedToKnow() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...Int(Int32.max)).array(of: 6)) { n in _ = accessProperty(n) }
    }

    @Test func thePropertyGeneratorReachesBothOutcomes() {
        var rng = SplitMix(seed: 7)
        var permitted = 0
        for _ in 0..<2000 where accessProperty((0..<6).map { _ in Int(rng.next() % UInt64(Int32.max)) }) { permitted += 1 }
        #expect(permitted > 50 && permitted < 1900, "\(permitted) of 2000 permitted")
    }
}

/// Builds a random read from 6 numbers, checks invariant 3 when it is
/// permitted, and says whether it was.
private func accessProperty(_ n: [Int]) -> Bool {
    let jpn = Fixtures.scheme(.jpn)
    let codes = jpn.levels.map(\.code)
    let values = ["MISSILE", "SIGINT", "NAVY", "AIR", "X"]
    let tags = ["Compartment", "Community"]
    let level = ["II", "III", "I"][n[0] % 3]
    let held = Set((0..<10).filter { (n[1] >> $0) & 1 == 1 }.map { CategoryValue(tag: tags[$0 % 2], value: values[$0 / 2]) })
    let restrictive = Array(values.enumerated().filter { (n[2] >> $0.offset) & 1 == 1 && n[5] % 3 != 0 }.map(\.element).prefix(2))
    let permissive = Array(values.enumerated().filter { (n[3] >> $0.offset) & 1 == 1 && n[5] % 5 != 0 }.map(\.element).prefix(2))
    var cats: [LiaisonModel.Category] = []
    if !restrictive.isEmpty { cats.append(.init(tag: "Compartment", kind: .restrictive, values: restrictive)) }
    if !permissive.isEmpty { cats.append(.init(tag: "Community", kind: .permissive, values: permissive)) }
    let thing = Fixtures.item(level: level, categories: cats)
    let reader = Reader(name: "r", party: .jpn, clearance: codes[n[4] % codes.count], categories: held, roles: Set(Role.allCases))
    let d = AccessPolicy.evaluate(
        AccessRequest(reader: reader, item: thing, node: .jpn, localScheme: jpn, agreement: Fixtures.kj, instant: at("2018-01-01T00:00:00Z")))
    guard d.isPermitted else { return false }
    let needed = Fixtures.kj.equivalence.equivalents(of: level, from: .kor, to: .jpn)
    #expect(!needed.isEmpty)
    #expect(jpn.level(reader.clearance)!.rank >= jpn.level(needed[0])!.rank)
    #expect(restrictive.allSatisfy { held.contains(.init(tag: "Compartment", value: $0)) })
    #expect(permissive.isEmpty || permissive.contains { held.contains(.init(tag: "Community", value: $0)) })
    return true
}

@Suite("Dual marking and equivalence (Art 4)")
struct MarkingTests {
    @Test(arguments: [
        ("gsomia-kor-jpn-2016", Party.kor, "II", Party.jpn, "GOKUHI", ["TOKUTEI"]),
        ("gsomia-kor-jpn-2016", .jpn, "TOKUTEI", .kor, "II", []),
        ("gsomia-kor-jpn-2016", .jpn, "HI", .kor, "III", []),
        ("gsomia-kor-usa-1987", .kor, "I", .usa, "TS", []),
        ("gsomia-jpn-usa-2007", .usa, "S", .jpn, "GOKUHI", ["TOKUTEI"]),
        ("tisa-2014", .kor, "II", .usa, "S", []),
    ])
    func marks(agreement: String, from: Party, level: String, to: Party, expected: String, alternatives: [String]) throws {
        let m = try DualMarking.make(agreement: Fixtures.agreement(agreement), originator: from, level: level, receiver: to).get()
        #expect(m.receiverLevel.code == expected)
        #expect(m.alternatives.map(\.code) == alternatives)
        #expect(m.originatorLevel.code == level)
        #expect(m.description.contains(m.originatorLevel.marking) && m.description.contains(m.receiverLevel.marking))
    }

    @Test(arguments: [
        ("gsomia-kor-jpn-2016", Party.kor, "I", Party.jpn, Refusal.Code.noEquivalence),
        ("gsomia-kor-jpn-2016", .jpn, "KIMITSU", .kor, .noEquivalence),
        ("tisa-2014", .usa, "TS", .kor, .noEquivalence),
        ("gsomia-kor-jpn-2016", .kor, "S", .jpn, .unknownLevel),
        ("gsomia-kor-jpn-2016", .kor, "II", .usa, .notAParty),
    ])
    func refuses(agreement: String, from: Party, level: String, to: Party, code: Refusal.Code) {
        let r = DualMarking.make(agreement: Fixtures.agreement(agreement), originator: from, level: level, receiver: to)
        guard case .failure(let refusal) = r else { Issue.record("expected a refusal"); return }
        #expect(refusal.code == code)
    }

    /// Property: equivalence preserves order — if x is at least as sensitive
    /// as y in the originator's scheme, their equivalents are too in the
    /// receiver's, for every shipped agreement and pair of parties.
    @Test(arguments: ExampleSetIDs.all)
    func equivalencePreservesOrder(id: String) {
        let a = Fixtures.agreement(id)
        for from in a.partyCodes {
            for to in a.partyCodes where to != from {
                let s = a.scheme(of: from)!, r = a.scheme(of: to)!
                for x in s.levels {
                    for y in s.levels {
                        let ex = a.equivalence.equivalents(of: x.code, from: from, to: to)
                        let ey = a.equivalence.equivalents(of: y.code, from: from, to: to)
                        guard let gx = ex.first, let gy = ey.first else { continue }
                        #expect((x.rank >= y.rank) == (r.level(gx)!.rank >= r.level(gy)!.rank), "\(id): \(from) \(x.code)/\(y.code) → \(to)")
                    }
                }
            }
        }
    }

    /// The same property over random well-formed tables accepted by validation.
    @Test func validatedTablesPreserveOrder() async {
        await propertyCheck(count: 300, input: Gen.int(in: 0...3).array(of: 3), Gen.int(in: 0...3).array(of: 3)) { a, b in
            // Build a table row by row from the two level lists; validation must
            // refuse any table that is not order-preserving.
            let aLevels = ["A1", "A2", "A3"], bLevels = ["B1", "B2", "B3"]
            var rows = ""
            for i in 0..<3 where a[i] < 3 && b[i] < 3 {
                rows += "\n  - {tier: T\(i), AAA: [\(aLevels[a[i]])], BBB: [\(bLevels[b[i]])]}"
            }
            guard !rows.isEmpty else { return }
            var text = Fixtures.minimalAgreementYAML
            let start = text.range(of: "equivalence:")!.lowerBound
            let end = text.range(of: "lifecycle:")!.lowerBound
            text.replaceSubrange(start..<end, with: "equivalence:" + rows + "\n")
            guard case .success(let agreement) = Fixtures.parseAgreement(text) else { return }
            let sa = agreement.scheme(of: Party("AAA")!)!, sb = agreement.scheme(of: Party("BBB")!)!
            for x in sa.levels {
                for y in sa.levels {
                    guard let gx = agreement.equivalence.equivalents(of: x.code, from: Party("AAA")!, to: Party("BBB")!).first,
                        let gy = agreement.equivalence.equivalents(of: y.code, from: Party("AAA")!, to: Party("BBB")!).first
                    else { continue }
                    #expect((x.rank >= y.rank) == (sb.level(gx)!.rank >= sb.level(gy)!.rank))
                }
            }
        }
    }
}

@Suite("Reclassification (Art 6(g))")
struct ReclassificationTests {
    @Test(arguments: [
        (Party.kor, "III", [Party.jpn], nil as Refusal.Code?),
        (.jpn, "III", [.jpn], .notOriginator),
        (.usa, "III", [.jpn], .notOriginator),
        (.kor, "I", [.jpn], .noEquivalence),
        (.kor, "I", [], nil),
        (.kor, "II", [.jpn], .unchangedLevel),
        (.kor, "IV", [.jpn], .unknownLevel),
    ])
    func decides(by: Party, level: String, holders: [Party], expected: Refusal.Code?) {
        let d = ReclassificationPolicy.evaluate(
            ReclassificationRequest(
                item: Fixtures.item(), by: by, newLevel: level, originatorScheme: Fixtures.scheme(.kor),
                holdings: holders.map { Holding(party: $0, agreement: Fixtures.kj) }))
        #expect(d.refusal?.code == expected, "\(d)")
    }
}

@Suite("Security labels")
struct LabelTests {
    @Test func validLabelsDropTheOriginatorFromReleasability() throws {
        let l = try SecurityLabel(policy: "national:KOR", originator: .kor, level: "II", releasableTo: [.kor, .jpn], created: at("2020-01-01T00:00:00Z"))
        #expect(l.releasableTo == [.jpn])
    }

    @Test(arguments: [
        ("", "II", [LiaisonModel.Category](), false),
        ("p", "", [], false),
        ("p", "II", [.init(tag: "", kind: .restrictive, values: ["x"])], false),
        ("p", "II", [.init(tag: "C", kind: .restrictive, values: [])], false),
        ("p", "II", [.init(tag: "C", kind: .restrictive, values: [""])], false),
        ("p", "II", [.init(tag: "C", kind: .restrictive, values: ["x"]), .init(tag: "C", kind: .permissive, values: ["y"])], false),
        ("p", "II", [.init(tag: "C", kind: .restrictive, values: ["x"])], true),
    ])
    func refusesMalformedLabels(policy: String, level: String, categories: [LiaisonModel.Category], valid: Bool) {
        let made = try? SecurityLabel(
            policy: policy, originator: .kor, level: level, releasableTo: [.jpn], categories: categories, created: at("2020-01-01T00:00:00Z"))
        #expect((made != nil) == valid)
    }

    @Test func reviewBeforeCreationIsRefused() {
        #expect(throws: ModelError(.invalidLabel, "")) {
            try SecurityLabel(policy: "p", originator: .kor, level: "II", releasableTo: [], created: at("2020-01-01T00:00:00Z"), review: at("2019-01-01T00:00:00Z"))
        }
    }
}
