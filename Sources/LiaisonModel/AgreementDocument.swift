internal import Foundation
internal import Yams

/// Reads and validates an agreement file (YAML); the format is documented
/// field by field in `docs/agreements.md`.
///
/// Every problem is reported with file, line, field and reason; an agreement
/// is returned only when there are none. Scheme files named by the agreement
/// are read through `loadScheme`, so this type does no I/O itself.
public enum AgreementDocument {
    /// Resolves a scheme reference (a path relative to the agreement file).
    public typealias SchemeLoader = (_ reference: String) throws -> SourceText

    public static func parse(
        _ source: SourceText, loadScheme: SchemeLoader
    ) -> Result<Agreement, ModelError> {
        let reader = DocumentReader(file: source.name)
        let agreement = reader.root(of: source.text).flatMap {
            read($0, reader: reader, loadScheme: loadScheme)
        }
        if let agreement, reader.diagnostics.isEmpty { return .success(agreement) }
        let diagnostics = reader.diagnostics.isEmpty
            ? [Diagnostic(file: source.name, field: "", reason: "not a valid agreement")] : reader.diagnostics
        return .failure(
            ModelError(.invalidAgreement, "\(source.name) is not a valid agreement", diagnostics: diagnostics))
    }

    static let topLevelKeys = [
        "id", "title", "binding", "parties", "equivalence", "lifecycle", "third_party_rule", "purposes", "hub",
        "based_on", "suite",
    ]

    // swiftlint:disable:next function_body_length cyclomatic_complexity
    static func read(_ root: Node, reader r: DocumentReader, loadScheme: SchemeLoader) -> Agreement? {
        guard let m = r.mapping(root, "") else { return nil }
        defer { m.finish() }

        let id = m.value("id").flatMap { r.identifier($0, "id") }
        let title = m.value("title").flatMap { r.string($0, "title") }
        let binding = m.value("binding", required: false).map { r.boolean($0, "binding") } ?? true

        // Parties and their schemes.
        var parties: [AgreementParty] = []
        var partyNodes: [Party: Node] = [:]
        if let node = m.value("parties"), let items = r.sequence(node, "parties") {
            for (i, item) in items.enumerated() {
                let path = "parties[\(i)]"
                guard let pm = r.mapping(item, path) else { continue }
                defer { pm.finish() }
                let party = pm.value("party").flatMap { r.party($0, pm.field("party")) }
                let authority = pm.value("authority").flatMap { r.string($0, pm.field("authority")) }
                let scheme = pm.value("scheme").flatMap { readScheme($0, pm.field("scheme"), r, loadScheme) }
                let anchors = pm.value("trust_anchors", required: false).map {
                    readAnchors($0, pm.field("trust_anchors"), r)
                } ?? []
                if let party, partyNodes[party] != nil {
                    r.report(pm.value("party"), pm.field("party"), "\(party) is listed twice")
                    continue
                }
                if let party, let scheme, scheme.party != party {
                    r.report(
                        pm.value("scheme"), pm.field("scheme"),
                        "the scheme is \(scheme.party)'s, not \(party)'s")
                    continue
                }
                if let party, let authority, let scheme {
                    partyNodes[party] = item
                    parties.append(
                        AgreementParty(party: party, authority: authority, scheme: scheme, trustAnchors: anchors ?? []))
                }
            }
            if items.count < 2 { r.report(node, "parties", "an agreement needs at least two parties") }
        }
        let known = Set(parties.map(\.party))
        func scheme(_ p: Party) -> ClassificationScheme? { parties.first { $0.party == p }?.scheme }

        // Art 4: the equivalence table.
        var rows: [EquivalenceTable.Row] = []
        if let node = m.value("equivalence"), let items = r.sequence(node, "equivalence") {
            if items.isEmpty { r.report(node, "equivalence", "Art 4: the table needs at least one row") }
            var usedLevels: [Party: [String: Int]] = [:]
            var previousRank: [Party: (rank: Int, row: Int)] = [:]
            var tiers = Set<String>()
            for (i, item) in items.enumerated() {
                let path = "equivalence[\(i)]"
                guard let rm = r.mapping(item, path) else { continue }
                let tier = rm.value("tier").flatMap { r.string($0, rm.field("tier")) }
                if let tier, !tiers.insert(tier).inserted {
                    r.report(rm.value("tier"), rm.field("tier"), "tier \(tier) has two rows")
                }
                var levels: [Party: [String]] = [:]
                for key in rm.keys where key != "tier" {
                    rm.markUsed(key)
                    let field = rm.field(key)
                    let valueNode = rm.value(key)!
                    guard let party = Party(key) else {
                        r.report(valueNode, field, "\"\(key)\" is not a party code (three capital letters)")
                        continue
                    }
                    guard known.contains(party), let partyScheme = scheme(party) else {
                        if !partyNodes.keys.contains(party) {
                            r.report(valueNode, field, "unknown party \(party): not a party to this agreement")
                        }
                        continue
                    }
                    guard let codes = r.strings(valueNode, field) else { continue }
                    if codes.isEmpty { r.report(valueNode, field, "name at least one level") }
                    var rowRank: Int?
                    var accepted: [String] = []
                    for code in codes {
                        guard let level = partyScheme.level(code) else {
                            r.report(
                                valueNode, field,
                                "\(code) is not a level of \(party)'s scheme (levels: \(partyScheme.levels.map(\.code).joined(separator: ", ")))"
                            )
                            continue
                        }
                        if let earlier = usedLevels[party]?[code] {
                            r.report(
                                valueNode, field,
                                earlier == i
                                    ? "level \(code) is named twice in this row"
                                    : "level \(code) is used twice: it is already in equivalence[\(earlier)]")
                            continue
                        }
                        usedLevels[party, default: [:]][code] = i
                        if let rr = rowRank, rr != level.rank {
                            r.report(
                                valueNode, field,
                                "\(codes.joined(separator: ", ")) are on different tiers of \(party)'s scheme; a row maps one tier")
                        }
                        rowRank = rowRank ?? level.rank
                        accepted.append(code)
                    }
                    if let rank = rowRank {
                        if let prev = previousRank[party], rank >= prev.rank {
                            r.report(
                                valueNode, field,
                                "this row breaks the order of \(party)'s scheme: \(codes.joined(separator: ", ")) is not less sensitive than the levels in equivalence[\(prev.row)]; rows run from the most sensitive down"
                            )
                        }
                        previousRank[party] = (rank, i)
                    }
                    if !accepted.isEmpty { levels[party] = accepted }
                }
                for p in parties.map(\.party) where !rm.keys.contains(p.code) {
                    r.report(item, path, "Art 4: the row gives no level for party \(p); every row maps every party")
                }
                if let tier { rows.append(EquivalenceTable.Row(tier: tier, levels: levels)) }
            }
        }

        // Art 21: term, renewal and notice.
        var term: Term?
        if let node = m.value("lifecycle"), let lm = r.mapping(node, "lifecycle") {
            defer { lm.finish() }
            let zone = lm.value("time_zone").flatMap { zn -> TimeZone? in
                guard let name = r.string(zn, lm.field("time_zone")) else { return nil }
                guard name.contains("/") || name == "UTC", let tz = TimeZone(identifier: name) else {
                    r.report(zn, lm.field("time_zone"), "\"\(name)\" is not an IANA time zone (e.g. Asia/Seoul)")
                    return nil
                }
                return tz
            }
            let renewal = lm.value("renewal").flatMap {
                r.choice($0, lm.field("renewal"), Term.Renewal.allCases.map { ($0.rawValue, $0) })
            }
            let notice = lm.value("notice_period_days").flatMap {
                r.integer($0, lm.field("notice_period_days"), in: 0...3650)
            }
            var years: Int?
            if renewal == .indefinite {
                if let yn = lm.value("term_years", required: false) {
                    r.report(yn, lm.field("term_years"), "an indefinite agreement has no term; remove term_years")
                }
                years = 0
            } else if renewal != nil {
                years = lm.value("term_years").flatMap { r.integer($0, lm.field("term_years"), in: 1...100) }
            }
            if let zone, let renewal, let notice, let years {
                term = Term(renewal: renewal, years: years, noticePeriodDays: notice, timeZone: zone)
            }
        }

        let thirdParty =
            m.value("third_party_rule", required: false).map {
                r.choice($0, "third_party_rule", ThirdPartyRule.allCases.map { ($0.rawValue, $0) })
            } ?? .originatorConsent

        var purposes: [Purpose] = []
        if let node = m.value("purposes", required: false), let items = r.sequence(node, "purposes") {
            for (i, item) in items.enumerated() {
                guard let pm = r.mapping(item, "purposes[\(i)]") else { continue }
                defer { pm.finish() }
                let code = pm.value("code").flatMap { cn -> String? in
                    guard let c = r.identifier(cn, pm.field("code")) else { return nil }
                    if purposes.contains(where: { $0.code == c }) {
                        r.report(cn, pm.field("code"), "purpose \(c) is listed twice")
                    }
                    return c
                }
                let description = pm.value("description").flatMap { r.string($0, pm.field("description")) }
                if let code, let description { purposes.append(Purpose(code: code, description: description)) }
            }
        }

        var hub: HubRouting?
        if let node = m.value("hub", required: false), let hm = r.mapping(node, "hub") {
            defer { hm.finish() }
            let hubParty = hm.value("party").flatMap { pn -> Party? in
                guard let p = r.party(pn, hm.field("party")) else { return nil }
                guard known.contains(p) else {
                    r.report(pn, hm.field("party"), "the hub \(p) is not a party to this agreement")
                    return nil
                }
                return p
            }
            var routes: [HubRouting.Route] = []
            if let rn = hm.value("routes"), let items = r.sequence(rn, hm.field("routes")) {
                if items.isEmpty { r.report(rn, hm.field("routes"), "a hub needs at least one route") }
                for (i, item) in items.enumerated() {
                    let path = "\(hm.field("routes"))[\(i)]"
                    guard let rm = r.mapping(item, path) else { continue }
                    defer { rm.finish() }
                    let from = rm.value("from").flatMap { r.party($0, rm.field("from")) }
                    let to = rm.value("to").flatMap { r.party($0, rm.field("to")) }
                    guard let from, let to else { continue }
                    for (p, key) in [(from, "from"), (to, "to")] where !known.contains(p) {
                        r.report(rm.value(key), rm.field(key), "unknown party \(p): not a party to this agreement")
                    }
                    if from == to { r.report(item, path, "a route goes from one party to another") }
                    if let hubParty, from == hubParty || to == hubParty {
                        r.report(item, path, "a route runs between two parties through the hub, not to or from it")
                    }
                    let route = HubRouting.Route(from: from, to: to)
                    if routes.contains(route) { r.report(item, path, "route \(from) → \(to) is listed twice") }
                    routes.append(route)
                }
            }
            if parties.count < 3 { r.report(node, "hub", "a hub relays between two other parties; list at least three") }
            if let hubParty { hub = HubRouting(hub: hubParty, routes: routes) }
        }

        var basedOn: [String] = []
        if let node = m.value("based_on", required: false), let ids = r.strings(node, "based_on") {
            for bid in ids {
                if !Identifier.isValid(bid) {
                    r.report(node, "based_on", "\"\(bid)\" is not a valid identifier: \(Identifier.rule)")
                } else if bid == id {
                    r.report(node, "based_on", "an agreement cannot ride on itself")
                } else if basedOn.contains(bid) {
                    r.report(node, "based_on", "\(bid) is listed twice")
                } else {
                    basedOn.append(bid)
                }
            }
        }

        let suite =
            m.value("suite", required: false).map {
                r.choice($0, "suite", CryptoSuite.allCases.map { ($0.rawValue, $0) })
            } ?? .hybridPQ

        guard let id, let title, let binding, let term, let thirdParty, let suite else { return nil }
        return Agreement(
            id: id, title: title, binding: binding, parties: parties, equivalence: EquivalenceTable(rows: rows),
            term: term, thirdPartyRule: thirdParty, purposes: purposes, hub: hub, basedOn: basedOn, suite: suite)
    }

    static func readScheme(
        _ node: Node, _ field: String, _ r: DocumentReader, _ load: SchemeLoader
    ) -> ClassificationScheme? {
        if node.mapping != nil { return SchemeDocument.read(node, reader: r, path: field) }
        guard let reference = r.string(node, field) else { return nil }
        let source: SourceText
        do {
            source = try load(reference)
        } catch {
            r.report(node, field, "cannot read scheme \(reference): \(error)")
            return nil
        }
        switch SchemeDocument.parse(source) {
        case .success(let scheme): return scheme
        case .failure(let error):
            r.report(node, field, "scheme \(reference) is not valid")
            for d in error.diagnostics { r.report(nil, field, d.description) }
            return nil
        }
    }

    static func readAnchors(_ node: Node, _ field: String, _ r: DocumentReader) -> [TrustAnchor]? {
        guard let items = r.sequence(node, field) else { return nil }
        var anchors: [TrustAnchor] = []
        for (i, item) in items.enumerated() {
            guard let am = r.mapping(item, "\(field)[\(i)]") else { continue }
            defer { am.finish() }
            let kind = am.value("kind").flatMap { r.choice($0, am.field("kind"), TrustAnchor.kinds.map { ($0, $0) }) }
            let fp = am.value("fingerprint").flatMap { fn -> String? in
                guard let f = r.string(fn, am.field("fingerprint")) else { return nil }
                guard TrustAnchor.isWellFormed(fingerprint: f) else {
                    r.report(fn, am.field("fingerprint"), "expected sha256: and 64 lower-case hex digits")
                    return nil
                }
                return f
            }
            guard let kind, let fp else { continue }
            let anchor = TrustAnchor(kind: kind, fingerprint: fp)
            if anchors.contains(anchor) { r.report(item, "\(field)[\(i)]", "this anchor is listed twice") }
            anchors.append(anchor)
        }
        return anchors
    }
}
