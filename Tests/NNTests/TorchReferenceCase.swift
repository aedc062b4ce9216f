/// Numbers from PyTorch for one tiny network (see scripts/nn_torch_reference.py); gradients and
/// running statistics summarised as (projection on a fixed sine vector, norm).
struct TorchReferenceCase {
    let inputShape: [Int]  // [N, C, H, W], torchvision's order
    /// Each block's last BatchNorm weight is scaled by this after the closed form.
    let lastBatchNormScale: Float
    let features: [Float]
    let inputGradient: (Double, Double)
    let parameterGradients: [(String, Double, Double)]
    let runningStatistics: [(String, Double, Double)]
    let evaluationFeatures: [Float]
}
