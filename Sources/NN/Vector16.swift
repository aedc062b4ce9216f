/// Sixteen floats loaded from or stored to any address: the unit of the element-wise kernels'
/// channel loops (written explicitly because the compiler cannot prove that raw pointers do not
/// overlap and otherwise leaves such loops scalar).
typealias Vector16 = SIMD16<Float>

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load16(_ offset: Int) -> Vector16 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vector16.self)
    }

    @inline(__always) func store16(_ offset: Int, _ v: Vector16) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: Vector16.self)
    }
}
