package cluster

import "errors"

// Errors of the cluster package.
var (
	// ErrConfig means a Config cannot start a node; the message names the field.
	ErrConfig = errors.New("cluster: config")
	// ErrContended means a claim could not be written after several tries
	// because others kept writing it; the caller may retry.
	ErrContended = errors.New("cluster: claim contended; try again")
	// ErrNotOwner means a unit handed to a Sender belongs to another camera
	// session than the sender's: it is not sent.
	ErrNotOwner = errors.New("cluster: unit belongs to another camera session than the sender")
	// ErrDraining means the node is draining (Registry.Drain): it claims
	// no camera, which should connect to another node.
	ErrDraining = errors.New("cluster: node is draining; connect to another node")
	// ErrNoHome means no node serves a camera stream: it is offline.
	ErrNoHome = errors.New("cluster: no node is home to the camera stream")
)
