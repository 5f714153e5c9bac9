package hls

// Each step of playlistEdit alone, as the tests of each (TestWindowed,
// TestRelistedParts, TestKeyframeHoldBack) call it.

func windowed(pl []byte, keep int) ([]byte, int) { return playlistEdit{keep: keep}.edit(pl) }

func (p *partMemo) relist(pl []byte) []byte {
	b, _ := playlistEdit{parts: p}.edit(pl)
	return b
}

func keyframeHoldBack(pl []byte) []byte {
	b, _ := playlistEdit{holdBack: true}.edit(pl)
	return b
}
