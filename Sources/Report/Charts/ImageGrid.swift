import Formats
import Foundation

/// Small images in a grid with captions (augmented views, nearest neighbours), each embedded in the
/// SVG as an inline PNG so the file stands alone.
public struct ImageGrid {
    /// One 8-bit image, row-major and interleaved: `pixels` is `[height, width, channels]`.
    public struct Image {
        public let width: Int
        public let height: Int
        /// 1 (gray) or 3 (RGB).
        public let channels: Int
        public let pixels: [UInt8]
        public var caption: String

        public init(width: Int, height: Int, channels: Int, pixels: [UInt8], caption: String = "") {
            precondition(channels == 1 || channels == 3, "ImageGrid.Image: \(channels) channels (1 or 3 supported)")
            precondition(width > 0 && height > 0 && pixels.count == width * height * channels,
                         "ImageGrid.Image: \(pixels.count) bytes for \(width)x\(height)x\(channels)")
            self.width = width
            self.height = height
            self.channels = channels
            self.pixels = pixels
            self.caption = caption
        }

        /// An image from floats `[height, width, channels]` (channels-last, as the image pipeline
        /// holds them), mapping `range` to 0...255 and clamping outside it.
        public init(width: Int, height: Int, channels: Int, floats: [Float], range: ClosedRange<Float> = 0...1,
                    caption: String = "") {
            let span = range.upperBound - range.lowerBound
            precondition(span > 0, "ImageGrid.Image: empty range \(range)")
            let bytes = floats.map { v -> UInt8 in
                let t = v.isNaN ? 0 : min(max((v - range.lowerBound) / span, 0), 1)
                return UInt8((t * 255).rounded())
            }
            self.init(width: width, height: height, channels: channels, pixels: bytes, caption: caption)
        }

        /// The image as PNG bytes.
        public var png: Data { PNGEncoder.encode(width: width, height: height, channels: channels, pixels: pixels) }
    }

    public var title: String
    public var images: [Image]
    public var columns: Int
    /// Displayed size of a pixel (small images are enlarged without smoothing).
    public var scale: Double

    public init(title: String, images: [Image], columns: Int = 8, scale: Double = 2) {
        precondition(columns > 0 && scale > 0, "ImageGrid: columns \(columns) and scale \(scale) must be positive")
        self.title = title
        self.images = images
        self.columns = columns
        self.scale = scale
    }

    /// The grid as an SVG document: an `<image class="tile">` per image with a data-URI PNG, and a
    /// `<text class="caption">` under each captioned image.
    public func svg() -> String {
        let cellWidth = (images.map { Double($0.width) }.max() ?? 1) * scale
        let cellHeight = (images.map { Double($0.height) }.max() ?? 1) * scale
        let hasCaptions = images.contains { !$0.caption.isEmpty }
        let gap = 8.0, top = title.isEmpty ? 8.0 : 40.0, captionHeight = hasCaptions ? 16.0 : 0
        let columnCount = min(columns, max(images.count, 1))
        let rowCount = (images.count + columns - 1) / columns
        let width = max(gap + Double(columnCount) * (cellWidth + gap), SVGCanvas.textWidth(title, size: 15) + 24)
        let height = top + Double(rowCount) * (cellHeight + captionHeight + gap) + gap
        var canvas = SVGCanvas(width: width, height: height)
        canvas.title(title)
        for (i, image) in images.enumerated() {
            let x = gap + Double(i % columns) * (cellWidth + gap)
            let y = top + Double(i / columns) * (cellHeight + captionHeight + gap)
            let uri = "data:image/png;base64," + image.png.base64EncodedString()
            canvas.raw("<image class=\"tile\" x=\"\(num(x))\" y=\"\(num(y))\" width=\"\(num(Double(image.width) * scale))\" "
                       + "height=\"\(num(Double(image.height) * scale))\" preserveAspectRatio=\"none\" "
                       + "style=\"image-rendering:pixelated\" href=\"\(uri)\" xlink:href=\"\(uri)\"/>")
            if !image.caption.isEmpty {
                canvas.text(image.caption, x: x + cellWidth / 2, y: y + cellHeight + 12, size: 10, anchor: .middle,
                            cssClass: "caption")
            }
        }
        return canvas.document(title: title)
    }
}
