/// The one error type of LiaisonModel (STYLE habit 4): an extensible code, a
/// human reason and where it was raised. Equality is on the code.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        public static let invalidScheme = Code(name: "invalidScheme")
        public static let invalidAgreement = Code(name: "invalidAgreement")
        public static let invalidStatement = Code(name: "invalidStatement")
        public static let invalidLabel = Code(name: "invalidLabel")
        public static let invalidDocument = Code(name: "invalidDocument")
    }

    public let code: Code
    public let reason: String
    /// Every problem found, for documents checked as a whole.
    public let diagnostics: [Diagnostic]
    public let file: String
    public let line: Int

    public init(
        _ code: Code, _ reason: String, diagnostics: [Diagnostic] = [], file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.reason = reason
        self.diagnostics = diagnostics
        self.file = file
        self.line = line
    }

    public var description: String {
        diagnostics.isEmpty ? reason : diagnostics.map(\.description).joined(separator: "\n")
    }

    public static func == (a: ModelError, b: ModelError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}

/// One problem in a document: the file, the place in it, the field and why.
public struct Diagnostic: Hashable, Sendable, CustomStringConvertible, Codable {
    public var file: String
    /// 1-based line and column, 0 when the problem has no single place.
    public var line: Int
    public var column: Int
    /// Dotted path of the field (`equivalence[1].JPN`), empty for the document.
    public var field: String
    public var reason: String

    public init(file: String, line: Int = 0, column: Int = 0, field: String, reason: String) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.reason = reason
    }

    public var description: String {
        var s = file
        if line > 0 { s += ":\(line):\(column)" }
        s += ": "
        if !field.isEmpty { s += "\(field): " }
        return s + reason
    }
}
