export { convForwardFast, convBackwardFast, convBackwardFastParams, type ConvCache } from "./conv.js";
export { maxPoolForwardFast, maxPoolBackwardFast, type MaxPoolCache } from "./pool.js";
export { convGeometry, poolGeometry, type ConvParam, type PoolParam, type ConvGeometry, type PoolGeometry } from "./geometry.js";
export { imageToFashionMnist, type OwnImageSteps } from "./own-image.js";
