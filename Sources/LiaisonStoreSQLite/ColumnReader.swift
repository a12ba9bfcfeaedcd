internal import Foundation
internal import GRDB
internal import GRDBSQLite

/// The columns of one result row by position (from 0): a raw statement's
/// current row (inside ``RawStatement/one(_:)`` or ``RawStatement/all(_:)``)
/// or a GRDB row, so that a row kind is decoded by one function whichever
/// way it was read. The tables are STRICT: a column holds the type it declares.
protocol ColumnReader {
    func isNull(at i: Int32) -> Bool
    func int64(at i: Int32) -> Int64
    func bytes(at i: Int32) -> [UInt8]
    func string(at i: Int32) -> String
}

extension ColumnReader {
    func optionalInt64(at i: Int32) -> Int64? { isNull(at: i) ? nil : int64(at: i) }
    func optionalBytes(at i: Int32) -> [UInt8]? { isNull(at: i) ? nil : bytes(at: i) }
    func optionalString(at i: Int32) -> String? { isNull(at: i) ? nil : string(at: i) }
}

extension RawStatement: ColumnReader {
    func isNull(at i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }

    func int64(at i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }

    func bytes(at i: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, i))
        guard count > 0, let base = sqlite3_column_blob(handle, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: count))
    }

    func string(at i: Int32) -> String {
        guard let text = sqlite3_column_text(handle, i) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(handle, i))), as: UTF8.self)
    }
}

extension Row: ColumnReader {
    func isNull(at i: Int32) -> Bool { hasNull(atIndex: Int(i)) }
    func int64(at i: Int32) -> Int64 { self[Int(i)] }
    func bytes(at i: Int32) -> [UInt8] { Array(self[Int(i)] as Data) }
    func string(at i: Int32) -> String { self[Int(i)] }
}
