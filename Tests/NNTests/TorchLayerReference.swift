/// Numbers from PyTorch for one layer on a tiny input (see scripts/nn_transformer_reference.py):
/// the output, and the gradients of Σ output·R in full, in torch's layout.
struct TorchLayerReference {
    let inputShape: [Int]
    /// The input is `inputScale·sin(0.37 i + 0.2) + inputShift`.
    let inputScale, inputShift: Float
    let output: [Float]
    let inputGradient: [Float]
    /// By torch's parameter name (relative to the layer), in torch's registration order.
    let parameterGradients: [(String, [Float])]
}
