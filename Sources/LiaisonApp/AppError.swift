/// The one error type of LiaisonApp: an extensible code, a reason a person
/// can act on, and where it was raised. Equality is on the code.
public struct AppError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let unreadableFile = Code(name: "unreadableFile")
        public static let invalidDocument = Code(name: "invalidDocument")
        public static let invalidArgument = Code(name: "invalidArgument")
        public static let refused = Code(name: "refused")
        public static let insecureKeyFile = Code(name: "insecureKeyFile")
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { reason }
    public static func == (a: AppError, b: AppError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }
}
