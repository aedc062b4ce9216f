/// Sixteen floats loaded from or stored to any address: the unit of the element-wise kernels'
/// channel loops (written explicitly because the compiler cannot prove that raw pointers do not
/// overlap and otherwise leaves such loops scalar).
typealias Vector16 = SIMD16<Float>

extension UnsafePointer where Pointee == Float {
    @inline(__always) func load16(_ offset: Int) -> Vector16 {
        UnsafeRawPointer(self + offset).loadUnaligned(as: Vector16.self)
    }

    /// The first `lanes` (1...16) floats, the other lanes zero: a channel loop's last, partial vector.
    @inline(__always) func load(lanes: Int) -> Vector16 {
        if lanes == 16 { return load16(0) }
        var v = Vector16()
        for i in 0..<lanes { v[i] = self[i] }
        return v
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func load16(_ offset: Int) -> Vector16 {
        UnsafePointer(self).load16(offset)
    }

    @inline(__always) func load(lanes: Int) -> Vector16 {
        UnsafePointer(self).load(lanes: lanes)
    }

    @inline(__always) func store16(_ offset: Int, _ v: Vector16) {
        UnsafeMutableRawPointer(self + offset).storeBytes(of: v, as: Vector16.self)
    }

    /// Stores the first `lanes` (1...16) lanes of `v`.
    @inline(__always) func store(_ v: Vector16, lanes: Int) {
        if lanes == 16 { return store16(0, v) }
        for i in 0..<lanes { self[i] = v[i] }
    }
}
