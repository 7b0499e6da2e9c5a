// The whiteout names and markers, named once (as moby's whiteouts.go does).

/** `.wh.<name>` in a layer tar deletes `<name>` from lower layers (AUFS form, used by OCI). */
export const WHITEOUT_PREFIX = '.wh.';
/** Names starting with this are AUFS metadata, never real files. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';
/** `<dir>/.wh..wh..opq` hides everything lower layers had in `<dir>`. */
export const WHITEOUT_OPAQUE_DIR = '.wh..wh..opq';
/** Overlay marks an opaque directory with this xattr set to 'y'. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
/** Overlay's whiteout is a character device with this device number. */
export const OVERLAY_WHITEOUT_DEVICE = { major: 0, minor: 0 } as const;
