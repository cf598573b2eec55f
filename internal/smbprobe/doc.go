// Package smbprobe is a raw SMB2 and DCE/RPC client for attack probes: it
// speaks message by message, so tests can send what real clients never
// do (half-finished logons, unsigned CANCELs, fragments that never end,
// forged NDR counts) and watch how the server answers. The client itself
// is internal/smbraw's; this package adds the probes' payloads.
//
// It is imported only by tests and test tools, never by the product.
package smbprobe
