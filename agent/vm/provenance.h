// -----------------------------------------------------------------------------
// File: provenance.h
// -----------------------------------------------------------------------------
//
// What a guest figure was measured with besides the agent (issue 20): the QEMU
// that ran it and the guest image that booted, so a comparison across a QEMU or
// image upgrade is flagged as such rather than taken for the device's own change.
// Both are cached for the agent's life (the version per binary, the digest per
// file path, size and modification time): a job asks for them every time.
//
// Example:
//
//   provenance->set_qemu_version(QemuVersion(guest.command().argv[0]));
//   provenance->set_guest_image_sha256(ImageSha256(image));
#ifndef KVMFARM_AGENT_VM_PROVENANCE_H_
#define KVMFARM_AGENT_VM_PROVENANCE_H_

#include <string>

#include "agent/vm/image.h"

namespace kvmfarm::vm {

// `qemu_binary --version`'s version: "7.2.5 (Debian 1:7.2+dfsg-7+deb12u5)" from
// "QEMU emulator version 7.2.5 (Debian ...)"; its whole first line when it has no
// "version "; "" when it can't be run.
std::string QemuVersion(const std::string& qemu_binary);

// The SHA-256 (hex) of the image's kernel followed by its initramfs; "" when a
// file can't be read.
std::string ImageSha256(const GuestImage& image);

}  // namespace kvmfarm::vm

#endif  // KVMFARM_AGENT_VM_PROVENANCE_H_
