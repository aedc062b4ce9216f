/// The element types of the safetensors format, spelled as in the file header.
///
/// All of them can be read, validated and written back as raw bytes; `F32`, `F64`, `F16` and
/// `BF16` convert to `Float`, and `I64` and `I32` to `Int64` (counters such as BatchNorm's
/// `num_batches_tracked`).
public enum SafeTensorsDType: String, CaseIterable, Equatable, Sendable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// Whether `floats` can read it.
    public var isFloatingPoint: Bool { self == .f32 || self == .f64 || self == .f16 || self == .bf16 }

    /// Whether `int64s` can read it.
    public var isInteger64Convertible: Bool { self == .i64 || self == .i32 }

    /// The reference writer lays tensors out by this rank, largest first (then by name), so that
    /// every tensor starts at an offset aligned to its element size; it is the order of the
    /// reference implementation's dtype enumeration.
    var layoutRank: Int { Self.allCases.firstIndex(of: self)! }
}
