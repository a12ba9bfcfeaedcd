internal import Foundation
internal import Yams

/// Reads a file of lifecycle statements for one agreement (YAML):
///
/// ```yaml
/// agreement: gsomia-kor-jpn-2016
/// statements:
///   - id: kor-notice-2019
///     party: KOR
///     act: termination-notice
///     at: 2019-08-23T18:00:00+09:00
///     effective: 2019-11-23T00:00:00+09:00
/// ```
///
/// Fields per act are documented in `docs/agreements.md`. Only the shape is
/// checked here; whether an act is valid in the agreement's state is the
/// lifecycle engine's decision (``AgreementLifecycle``).
public enum StatementsDocument {
    public struct Contents: Sendable, Hashable {
        public var agreement: Agreement.ID
        public var statements: [LifecycleStatement]
    }

    public static func parse(_ source: SourceText) -> Result<Contents, ModelError> {
        let r = DocumentReader(file: source.name)
        var contents: Contents?
        if let root = r.root(of: source.text), let m = r.mapping(root, "") {
            let agreement = m.value("agreement").flatMap { r.identifier($0, "agreement") }
            var statements: [LifecycleStatement] = []
            if let node = m.value("statements"), let items = r.sequence(node, "statements") {
                var ids: [String: Int] = [:]
                for (i, item) in items.enumerated() {
                    guard let s = statement(item, "statements[\(i)]", agreement ?? "", r) else { continue }
                    if let j = ids[s.id] {
                        r.report(item, "statements[\(i)].id", "id \(s.id) is already used by statements[\(j)]")
                        continue
                    }
                    ids[s.id] = i
                    statements.append(s)
                }
            }
            m.finish()
            if let agreement { contents = Contents(agreement: agreement, statements: statements) }
        }
        if let contents, r.diagnostics.isEmpty { return .success(contents) }
        let diagnostics =
            r.diagnostics.isEmpty ? [Diagnostic(file: source.name, field: "", reason: "not a statements file")] : r.diagnostics
        return .failure(
            ModelError(.invalidStatement, "\(source.name) is not a valid statements file", diagnostics: diagnostics))
    }

    static let acts = LifecycleStatement.Act.names

    static func statement(_ node: Node, _ path: String, _ agreement: String, _ r: DocumentReader) -> LifecycleStatement? {
        guard let m = r.mapping(node, path) else { return nil }
        defer { m.finish() }
        let id = m.value("id").flatMap { r.identifier($0, m.field("id")) }
        let party = m.value("party").flatMap { r.party($0, m.field("party")) }
        let at = m.value("at").flatMap { r.instant($0, m.field("at")) }
        let note = m.value("note", required: false).flatMap { r.string($0, m.field("note")) }
        let actName = m.value("act").flatMap { r.choice($0, m.field("act"), acts.map { ($0, $0) }) }
        func effective() -> Date? { m.value("effective", required: false).flatMap { r.instant($0, m.field("effective")) } }
        func ref(_ key: String) -> String? { m.value(key).flatMap { r.identifier($0, m.field(key)) } }
        let act: LifecycleStatement.Act?
        switch actName {
        case "entry-into-force": act = .entryIntoForce
        case "termination-notice": act = .terminationNotice(effective: effective())
        case "notice-suspension":
            let condition = m.value("condition", required: false).flatMap { r.string($0, m.field("condition")) }
            act = ref("notice").map { .noticeSuspension(notice: $0, condition: condition) }
        case "suspension-lifted": act = ref("notice").map { .suspensionLifted(notice: $0, effective: effective()) }
        case "notice-withdrawal": act = ref("notice").map { .noticeWithdrawal(notice: $0) }
        case "amendment":
            let summary = m.value("summary").flatMap { r.string($0, m.field("summary")) }
            let proposal = ref("proposal")
            let e = effective()
            act = proposal.flatMap { p in summary.map { .amendment(proposal: p, summary: $0, effective: e) } }
        case "mutual-termination": act = ref("proposal").map { .mutualTermination(proposal: $0, effective: effective()) }
        default: act = nil
        }
        guard let id, let party, let at, let act else { return nil }
        return LifecycleStatement(id: id, agreement: agreement, party: party, at: at, act: act, note: note)
    }
}
