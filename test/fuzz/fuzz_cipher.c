/*
 * fuzz_cipher.c - an encrypted object (io/cipher.h) read back from storage:
 * header, wrapped data key, authenticated chunks.  The keyring holds the
 * corpus's key (32 bytes of 0x42), so forged headers reach the unwrap and
 * the chunk decryption (no passphrase: a scrypt per input would make the
 * fuzzer crawl; test_cipher checks the parameter bounds).  A damaged object
 * must be an error, never a crash or a hang.
 */
#include "io/cipher.h"
#include "io/io.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static IoKeyring *kr;
	static uint8_t buf[65536];
	IoReader *r = NULL;
	uint64_t total = 0;
	ssize_t n;

	if (kr == NULL) {
		IoKek k = {.kind = IO_KEK_KEY_FILE};

		memset(k.key, 0x42, sizeof(k.key));
		io_kek_fingerprint(k.fingerprint, k.key);
		kr = io_keyring_new();
		io_keyring_add_kek(kr, &k);
	}
	if (io_decrypt_reader_new(&r, io_mem_reader_new(data, size), kr, "tenback/1/shop/20261127-000000F/manifest") != 0)
		return 0;
	while ((n = io_reader_read(r, buf, sizeof(buf))) > 0) {
		total += (uint64_t)n;
		if (total > (uint64_t)64 << 20)
			break;
	}
	io_reader_free(r);
	return 0;
}
