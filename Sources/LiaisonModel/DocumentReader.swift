internal import Foundation
internal import Yams

/// Reads a YAML document field by field, collecting every problem as a
/// ``Diagnostic`` (file, line, column, field, reason) rather than stopping
/// at the first. Unknown keys are problems too: a misspelt
/// `notice_period_dayz` must not silently fall back to a default.
final class DocumentReader {
    /// Documents larger than this are refused before parsing.
    static let maximumSize = 1 << 20

    let file: String
    private(set) var diagnostics: [Diagnostic] = []

    init(file: String) { self.file = file }

    func report(_ node: Node?, _ field: String, _ reason: String) {
        diagnostics.append(
            Diagnostic(
                file: file, line: node?.mark?.line ?? 0, column: node?.mark?.column ?? 0, field: field, reason: reason))
    }

    /// Parses `text` into its single root node, or reports why it cannot.
    func root(of text: String) -> Node? {
        guard text.utf8.count <= Self.maximumSize else {
            report(nil, "", "the document is \(text.utf8.count) bytes; the limit is \(Self.maximumSize)")
            return nil
        }
        if text.utf8.contains(0) {
            report(nil, "", "the document contains a NUL byte; it is not a YAML text file")
            return nil
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                report(nil, "", "the document is empty")
                return nil
            }
            return node
        } catch let error as YamlError {
            report(nil, "", Self.describe(error))
            if case .scanner(_, _, let mark, _) = error { patchLast(mark) }
            if case .parser(_, _, let mark, _) = error { patchLast(mark) }
            if case .composer(_, _, let mark, _) = error { patchLast(mark) }
            return nil
        } catch {
            report(nil, "", "not a YAML document: \(error)")
            return nil
        }
    }

    private func patchLast(_ mark: Mark) {
        guard var d = diagnostics.popLast() else { return }
        d.line = mark.line
        d.column = mark.column
        diagnostics.append(d)
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return "not valid YAML: \(problem)"
        case .reader(let problem, _, _, _):
            return "not readable as UTF-8 YAML: \(problem)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "a key appears twice in one mapping: \(duplicates.joined(separator: ", "))"
        default:
            return "not valid YAML"
        }
    }

    /// A mapping node, or a report that `field` must be one.
    func mapping(_ node: Node, _ field: String) -> MappingReader? {
        if case .alias = node {
            report(node, field, "YAML aliases are not accepted; write the value out")
            return nil
        }
        guard let m = node.mapping else {
            report(node, field, "expected a mapping of keys to values")
            return nil
        }
        var pairs: [(String, Node)] = []
        for (k, v) in m {
            guard let key = k.scalar?.string else {
                report(k, field, "keys must be plain strings")
                continue
            }
            pairs.append((key, v))
        }
        return MappingReader(reader: self, node: node, path: field, pairs: pairs)
    }

    /// The items of a sequence node, or a report that `field` must be one.
    func sequence(_ node: Node, _ field: String) -> [Node]? {
        guard let s = node.sequence else {
            report(node, field, "expected a list")
            return nil
        }
        return Array(s)
    }

    /// A non-empty scalar string.
    func string(_ node: Node, _ field: String) -> String? {
        if case .alias = node {
            report(node, field, "YAML aliases are not accepted; write the value out")
            return nil
        }
        guard let s = node.scalar else {
            report(node, field, "expected a single value, not a list or mapping")
            return nil
        }
        let text = s.string.trimmingWhitespace()
        guard !text.isEmpty, s.style != .plain || !["~", "null", "Null", "NULL"].contains(text) else {
            report(node, field, "must not be empty")
            return nil
        }
        return text
    }

    /// An identifier (agreement, statement, proposal, purpose id).
    func identifier(_ node: Node, _ field: String) -> String? {
        guard let id = string(node, field) else { return nil }
        guard Identifier.isValid(id) else {
            report(node, field, "\"\(id)\" is not a valid identifier: \(Identifier.rule)")
            return nil
        }
        return id
    }

    func integer(_ node: Node, _ field: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, field) else { return nil }
        guard let value = Int(text), text.first != "+" else {
            report(node, field, "expected a whole number, found \"\(text)\"")
            return nil
        }
        guard range.contains(value) else {
            report(node, field, "must be between \(range.lowerBound) and \(range.upperBound), found \(value)")
            return nil
        }
        return value
    }

    func boolean(_ node: Node, _ field: String) -> Bool? {
        guard let text = string(node, field) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(node, field, "expected true or false, found \"\(text)\"")
            return nil
        }
    }

    func party(_ node: Node, _ field: String) -> Party? {
        guard let text = string(node, field) else { return nil }
        guard let party = Party(text) else {
            report(node, field, "\"\(text)\" is not an ISO 3166-1 alpha-3 party code (three capital letters, e.g. KOR)")
            return nil
        }
        return party
    }

    func instant(_ node: Node, _ field: String) -> Date? {
        guard let text = string(node, field) else { return nil }
        guard let date = RFC3339.parse(text) else {
            report(
                node, field,
                "\"\(text)\" is not an RFC 3339 instant with an explicit offset (e.g. 2019-08-23T10:00:00+09:00)")
            return nil
        }
        return date
    }

    /// One of `choices`, spelled exactly.
    func choice<T>(_ node: Node, _ field: String, _ choices: [(String, T)]) -> T? {
        guard let text = string(node, field) else { return nil }
        guard let hit = choices.first(where: { $0.0 == text }) else {
            report(node, field, "\"\(text)\" is not one of: \(choices.map(\.0).joined(separator: ", "))")
            return nil
        }
        return hit.1
    }

    /// A scalar or a list of scalars, as a list of strings.
    func strings(_ node: Node, _ field: String) -> [String]? {
        if node.scalar != nil { return string(node, field).map { [$0] } }
        guard let items = sequence(node, field) else { return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = string(item, "\(field)[\(i)]") else { return nil }
            out.append(s)
        }
        return out
    }
}

/// Key access over one mapping; ``finish()`` reports keys nobody asked for.
final class MappingReader {
    let reader: DocumentReader
    let node: Node
    let path: String
    let pairs: [(String, Node)]
    private var used = Set<String>()

    init(reader: DocumentReader, node: Node, path: String, pairs: [(String, Node)]) {
        self.reader = reader
        self.node = node
        self.path = path
        self.pairs = pairs
    }

    func field(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    var keys: [String] { pairs.map(\.0) }

    /// The value under `key`; reports a missing required key.
    func value(_ key: String, required: Bool = true) -> Node? {
        used.insert(key)
        if let pair = pairs.first(where: { $0.0 == key }) { return pair.1 }
        if required { reader.report(node, field(key), "is required") }
        return nil
    }

    func markUsed(_ key: String) { used.insert(key) }

    /// Reports every key that was not read, naming the accepted ones.
    func finish() {
        for (key, value) in pairs where !used.contains(key) {
            reader.report(
                value, field(key), "unknown field; accepted fields here: \(used.sorted().joined(separator: ", "))")
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}
