/* Marks one symbol-version requirement of an ELF64 shared library as weak
 * (VER_FLG_WEAK), so the dynamic loader accepts the library when the named
 * version is missing from the providing library.
 *
 * Used for TorchSharp's libLibTorchSharp.so, which asks libstdc++ for
 * GLIBCXX_3.4.32 for a single symbol (std::ios_base_library_init, GCC 13).
 * Debian 12's libstdc++ stops at 3.4.30; the symbol itself is provided by the
 * small shim library built beside this program.
 *
 * usage: weaken-verneed FILE VERSION      exit 0 patched or already weak,
 *                                          1 version not required, 2 error */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s FILE VERSION\n", argv[0]); return 2; }
    FILE *f = fopen(argv[1], "r+b");
    if (!f) { perror(argv[1]); return 2; }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(size);
    if (!buf || fread(buf, 1, size, f) != (size_t)size) { fprintf(stderr, "cannot read %s\n", argv[1]); return 2; }

    Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
    if (size < (long)sizeof(Elf64_Ehdr) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) {
        fprintf(stderr, "%s is not an ELF64 file\n", argv[1]); return 2;
    }
    Elf64_Shdr *sh = (Elf64_Shdr *)(buf + eh->e_shoff);
    int found = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        const char *strtab = (const char *)(buf + sh[sh[i].sh_link].sh_offset);
        unsigned char *p = buf + sh[i].sh_offset;
        for (;;) {
            Elf64_Verneed *vn = (Elf64_Verneed *)p;
            unsigned char *a = p + vn->vn_aux;
            for (int k = 0; k < vn->vn_cnt; k++) {
                Elf64_Vernaux *aux = (Elf64_Vernaux *)a;
                if (strcmp(strtab + aux->vna_name, argv[2]) == 0) {
                    aux->vna_flags |= VER_FLG_WEAK;
                    found = 1;
                }
                if (!aux->vna_next) break;
                a += aux->vna_next;
            }
            if (!vn->vn_next) break;
            p += vn->vn_next;
        }
    }
    if (!found) { free(buf); fclose(f); return 1; }
    fseek(f, 0, SEEK_SET);
    if (fwrite(buf, 1, size, f) != (size_t)size) { fprintf(stderr, "cannot write %s\n", argv[1]); return 2; }
    fclose(f);
    free(buf);
    return 0;
}
