/*
 * xsguest.S - tiny guest that dumps CPUID leaf 0xD as a QEMU guest sees it,
 * before and after enabling every supported XCR0 bit.
 *
 * Boot:   qemu-system-x86_64 -kernel xsguest.elf ...  (32-bit ELF; PVH note,
 *         or multiboot v1 header). Command line words: "noxgetbv", "longmode".
 * Output: COM1 (0x3f8), one line per record, hex, e.g.
 *           boot 0xd.0 eax=00000007 ebx=00000240 ecx=00000340 edx=00000000
 * Exit:   writes 0 to isa-debug-exit at port 0xf4 (QEMU exit status 1);
 *         falls back to cli;hlt if the device is absent.
 *
 * Steps:
 *   1. cpuid 0, 1, 7.0, 7.1 ("boot" records)
 *   2. cpuid 0xd.0 .. 0xd.19 with XCR0 as booted (x87 only)
 *   3. if CPUID.1:ECX.XSAVE: set CR4.OSXSAVE, XSETBV(XCR0 = CPUID.(0xd,0) EDX:EAX);
 *      if that #GPs, retry with fewer components (see try_masks).
 *      Print XGETBV(0) (unless "noxgetbv") and cpuid 0xd.0 / 0xd.1 again ("xcr0").
 *   4. if CPUID.(0xd,1):EAX.XSAVES: WRMSR IA32_XSS (0xda0) = CPUID.(0xd,1) EDX:ECX,
 *      print rdmsr and cpuid 0xd.1 again ("xss" records).
 *   5. with "longmode": cpuid 1, 7.0, 0xd.0, 0xd.1 in 64-bit ("lm") and
 *      compatibility ("cm") mode.
 * #GP and #UD are caught (IDT) and reported as "fault vec=..".
 *
 * Build: as --32 -o xsguest.o xsguest.S
 *        ld -m elf_i386 -n -T xsguest.ld -o xsguest.elf xsguest.o
 */
        .intel_syntax noprefix
        .code32

        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x00000000
        .set COM1, 0x3f8
        .set DEBUG_EXIT, 0xf4

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        /* PVH entry note (Xen ELF note 18, XEN_ELFNOTE_PHYS32_ENTRY): lets QEMU
         * boot the same ELF directly in 32-bit protected mode, also with
         * -M microvm (qboot), which is much faster than SeaBIOS+multiboot. */
        .section .note.Xen, "a"
        .align 4
        .long 4, 4, 18
        .asciz "Xen"
        .long _start

        .text
        .globl _start
_start:
        cli
        mov     esp, offset stack_top
        call    find_cmdline            /* eax/ebx from multiboot or PVH */
        lgdt    [gdt_desc]
        .byte   0xea                    /* ljmp 0x08:1f */
        .long   1f
        .word   0x08
1:      mov     ax, 0x10
        mov     ds, ax
        mov     es, ax
        mov     ss, ax
        mov     fs, ax
        mov     gs, ax
        mov     esp, offset stack_top

        /* IDT: vector 6 (#UD) and 13 (#GP) -> fault_handler */
        mov     eax, offset fault_ud
        mov     edi, offset idt + 6*8
        call    set_gate
        mov     eax, offset fault_gp
        mov     edi, offset idt + 13*8
        call    set_gate
        lidt    [idt_desc]

        mov     esi, offset s_hello
        call    puts

        /* ---- basic leaves ---- */
        mov     esi, offset s_boot
        xor     eax, eax
        xor     ecx, ecx
        call    dump_leaf               /* cpuid 0 */
        mov     eax, 1
        xor     ecx, ecx
        call    dump_leaf
        mov     eax, 7
        xor     ecx, ecx
        call    dump_leaf
        mov     eax, 7
        mov     ecx, 1
        call    dump_leaf

        /* ---- leaf 0xd, sub-leaves 0..19, XCR0 as booted ---- */
        xor     ebx, ebx
2:      push    ebx
        mov     esi, offset s_boot
        mov     eax, 0xd
        mov     ecx, ebx
        call    dump_leaf
        pop     ebx
        inc     ebx
        cmp     ebx, 20
        jb      2b

        /* ---- enable XSAVE: CR4.OSXSAVE (bit 18) ---- */
        mov     eax, 1
        xor     ecx, ecx
        cpuid
        bt      ecx, 26                 /* XSAVE */
        jnc     no_xsave
        mov     eax, cr4
        or      eax, 1 << 18
        mov     cr4, eax

        mov     eax, 0xd
        xor     ecx, ecx
        cpuid
        mov     [want_lo], eax
        mov     [want_hi], edx

        /* try masks: full; full&~AMX(17,18); full&~(AMX|AVX-512(5,6,7)); x87|SSE|AVX; x87|SSE */
        mov     ebp, offset try_masks
3:      mov     eax, [want_lo]
        and     eax, [ebp]
        mov     edx, [want_hi]
        and     edx, [ebp+4]
        mov     [try_lo], eax
        mov     [try_hi], edx
        mov     esi, offset s_try
        call    puts
        mov     eax, [try_hi]
        call    puthex
        mov     eax, [try_lo]
        call    puthex
        call    newline
        mov     eax, [try_lo]
        mov     edx, [try_hi]
        xor     ecx, ecx
        mov     dword ptr [fault_vec], -1
        mov     dword ptr [recover], offset 4f
        xsetbv
4:      cmp     dword ptr [fault_vec], -1
        je      5f
        add     ebp, 8
        cmp     ebp, offset try_masks_end
        jb      3b
        jmp     no_xsave
5:
        mov     esi, offset s_xcr0
        call    puts
        call    skip_xgetbv
        jc      8f
        xor     ecx, ecx
        mov     dword ptr [recover], offset 8f
        xgetbv
        push    eax
        mov     eax, edx
        call    puthex
        pop     eax
        call    puthex
8:      call    newline

        mov     esi, offset s_xcr0
        mov     eax, 0xd
        xor     ecx, ecx
        call    dump_leaf
        mov     esi, offset s_xcr0
        mov     eax, 0xd
        mov     ecx, 1
        call    dump_leaf

        /* ---- IA32_XSS, if XSAVES ---- */
        mov     eax, 0xd
        mov     ecx, 1
        cpuid
        bt      eax, 3                  /* XSAVES */
        jnc     done
        mov     eax, ecx                /* XSS mask: EDX:ECX of 0xd.1 */
        mov     ecx, 0xda0
        mov     dword ptr [fault_vec], -1
        mov     dword ptr [recover], offset 6f
        wrmsr
6:      mov     esi, offset s_xss
        call    puts
        mov     ecx, 0xda0
        mov     dword ptr [recover], offset 7f
        rdmsr
7:      push    eax
        mov     eax, edx
        call    puthex
        pop     eax
        call    puthex
        call    newline
        mov     esi, offset s_xss
        mov     eax, 0xd
        mov     ecx, 1
        call    dump_leaf
        jmp     done

no_xsave:
        mov     esi, offset s_noxsave
        call    puts
done:
        call    long_mode
        mov     esi, offset s_done
        call    puts
        mov     dx, DEBUG_EXIT
        xor     eax, eax
        out     dx, eax
9:      cli
        hlt
        jmp     9b

/* ---- fault handling: record vector, resume at [recover] ---- */
fault_ud:
        push    0                       /* fake error code */
        push    6
        jmp     fault_common
fault_gp:
        push    13
fault_common:
        push    eax
        mov     eax, [esp+4]
        mov     [fault_vec], eax
        mov     esi, offset s_fault
        call    puts
        call    puthex
        call    newline
        mov     eax, [recover]
        mov     [esp+12], eax           /* saved EIP (after vec, errcode) */
        pop     eax
        add     esp, 8                  /* drop vec + error code */
        iretd

/* find_cmdline: entry eax/ebx -> [cmdline] (0 if none). Multiboot v1:
 * eax=0x2badb002, ebx=info, cmdline at +16 if flags bit 2. PVH: ebx=
 * hvm_start_info (magic 0x336ec578), cmdline_paddr at +24. No stack yet. */
find_cmdline:
        mov     dword ptr [cmdline], 0
        cmp     eax, 0x2badb002
        jne     1f
        test    dword ptr [ebx], 1 << 2
        jz      2f
        mov     eax, [ebx+16]
        mov     [cmdline], eax
        ret
1:      cmp     dword ptr [ebx], 0x336ec578
        jne     2f
        mov     eax, [ebx+24]
        mov     [cmdline], eax
2:      ret

/* cmdline_has: CF=1 if the boot command line contains the string at edi. */
cmdline_has:
        pushad
        mov     esi, [cmdline]
        test    esi, esi
        jz      3f
1:      cmp     byte ptr [esi], 0
        je      3f
        xor     ecx, ecx
2:      mov     al, [edi+ecx]
        test    al, al
        jz      4f                      /* whole word matched */
        cmp     al, [esi+ecx]
        jne     5f
        inc     ecx
        jmp     2b
5:      inc     esi
        jmp     1b
3:      popad
        clc
        ret
4:      popad
        stc
        ret

/* skip_xgetbv: CF=1 if the command line contains "noxgetbv"
 * (some nested/software KVM back ends cannot emulate XGETBV). */
skip_xgetbv:
        push    edi
        mov     edi, offset s_noxgetbv
        call    cmdline_has
        pop     edi
        jnc     1f
        push    esi
        mov     esi, offset s_skipped
        call    puts
        pop     esi
        stc
1:      ret

/* long_mode: optional (command line "longmode"): enter IA-32e mode with
 * identity-mapped 2 MiB pages, run cpuid 1, 7.0, 0xd.0, 0xd.1 in 64-bit
 * mode ("lm" records) and again in compatibility mode ("cm" records).
 * Only for comparing back ends that treat paged/64-bit code differently;
 * after it the 32-bit IDT is unusable, so it runs last. */
long_mode:
        mov     edi, offset s_longmode
        call    cmdline_has
        jnc     9f
        mov     eax, offset pdpt
        or      eax, 3
        mov     [pml4], eax
        mov     eax, offset pd
        or      eax, 3
        mov     [pdpt], eax
        mov     dword ptr [pd], 0x00000083      /* 0-2 MiB, PS|RW|P */
        mov     dword ptr [pd+8], 0x00200083    /* 2-4 MiB */
        mov     eax, cr4
        or      eax, 1 << 5                     /* PAE */
        mov     cr4, eax
        mov     eax, offset pml4
        mov     cr3, eax
        mov     ecx, 0xc0000080                 /* EFER.LME */
        rdmsr
        or      eax, 1 << 8
        wrmsr
        mov     eax, cr0
        or      eax, 1 << 31                    /* PG: IA-32e, compatibility mode */
        mov     cr0, eax
        .byte   0xea                            /* ljmp 0x18:lm64 */
        .long   lm64
        .word   0x18
        .code64
lm64:
        mov     edi, offset lmbuf
        mov     esi, offset lm_leaves
1:      mov     eax, [rsi]
        mov     ecx, [rsi+4]
        cpuid
        mov     [rdi], eax
        mov     [rdi+4], ebx
        mov     [rdi+8], ecx
        mov     [rdi+12], edx
        add     rdi, 16
        add     rsi, 8
        cmp     esi, offset lm_leaves_end
        jb      1b
        push    0x08
        mov     eax, offset cm32
        push    rax
        .byte   0x48, 0xcb                      /* retfq -> compatibility mode */
        .code32
cm32:
        mov     ebx, offset lm_leaves
        mov     ebp, offset lmbuf
2:      mov     esi, offset s_lm                /* values read in 64-bit mode */
        call    puts
        mov     esi, offset s_0x
        call    puts
        mov     eax, [ebx]
        call    putnum
        mov     al, 0x2e
        call    putc
        mov     eax, [ebx+4]
        call    putnum
        mov     esi, offset s_eax
        call    puts
        mov     eax, [ebp]
        call    puthex
        mov     esi, offset s_ebx
        call    puts
        mov     eax, [ebp+4]
        call    puthex
        mov     esi, offset s_ecx
        call    puts
        mov     eax, [ebp+8]
        call    puthex
        mov     esi, offset s_edx
        call    puts
        mov     eax, [ebp+12]
        call    puthex
        call    newline
        mov     esi, offset s_cm                /* same leaf in compatibility mode */
        mov     eax, [ebx]
        mov     ecx, [ebx+4]
        push    ebx
        push    ebp
        call    dump_leaf
        pop     ebp
        pop     ebx
        add     ebx, 8
        add     ebp, 16
        cmp     ebx, offset lm_leaves_end
        jb      2b
9:      ret

/* edi = gate address, eax = handler */
set_gate:
        mov     [edi], ax
        mov     word ptr [edi+2], 0x08
        mov     word ptr [edi+4], 0x8e00   /* present, DPL0, 32-bit interrupt gate */
        shr     eax, 16
        mov     [edi+6], ax
        ret

/* dump_leaf: esi = prefix, eax = leaf, ecx = subleaf.
 * prints "<prefix>0x<leaf>.<sub> eax=.. ebx=.. ecx=.. edx=.." */
dump_leaf:
        push    esi
        push    ecx
        push    eax
        call    puts
        mov     esi, offset s_0x
        call    puts
        pop     eax
        push    eax
        call    putnum
        mov     al, 0x2e
        call    putc
        mov     eax, [esp+4]
        call    putnum
        pop     eax
        pop     ecx
        cpuid
        push    edx
        push    ecx
        push    ebx
        push    eax
        mov     esi, offset s_eax
        call    puts
        pop     eax
        call    puthex
        mov     esi, offset s_ebx
        call    puts
        pop     eax
        call    puthex
        mov     esi, offset s_ecx
        call    puts
        pop     eax
        call    puthex
        mov     esi, offset s_edx
        call    puts
        pop     eax
        call    puthex
        pop     esi
        jmp     newline

/* putnum: eax as lowercase hex without leading zeros */
putnum:
        push    ecx
        mov     ecx, 28
1:      cmp     ecx, 0
        je      2f
        mov     edx, eax
        shr     edx, cl
        and     edx, 0xf
        jnz     2f
        sub     ecx, 4
        jmp     1b
2:      push    eax
        shr     eax, cl
        and     eax, 0xf
        mov     al, [hexdig+eax]
        call    putc
        pop     eax
        sub     ecx, 4
        jns     2b
        pop     ecx
        ret

/* puthex: eax as 8 hex digits */
puthex:
        push    ecx
        push    eax
        mov     ecx, 8
1:      rol     eax, 4
        push    eax
        and     eax, 0xf
        mov     al, [hexdig+eax]
        call    putc
        pop     eax
        loop    1b
        pop     eax
        pop     ecx
        ret

newline:
        mov     al, 10
        jmp     putc

/* puts: esi = NUL-terminated string (esi preserved) */
puts:
        push    esi
        push    eax
1:      mov     al, [esi]
        test    al, al
        jz      2f
        call    putc
        inc     esi
        jmp     1b
2:      pop     eax
        pop     esi
        ret

/* putc: al -> COM1 (waits for THR empty) */
putc:
        push    edx
        push    eax
        mov     dx, COM1 + 5
1:      in      al, dx
        test    al, 0x20
        jz      1b
        pop     eax
        mov     dx, COM1
        out     dx, al
        pop     edx
        ret

        .section .rodata
hexdig:     .ascii "0123456789abcdef"
s_hello:    .asciz "xsguest 1\n"
s_boot:     .asciz "boot "
s_xcr0:     .asciz "xcr0 "
s_xss:      .asciz "xss "
s_0x:       .asciz "0x"
s_eax:      .asciz " eax="
s_ebx:      .asciz " ebx="
s_ecx:      .asciz " ecx="
s_edx:      .asciz " edx="
s_try:      .asciz "xsetbv try="
s_fault:    .asciz "fault vec="
s_noxsave:  .asciz "xsetbv none\n"
s_done:     .asciz "done\n"
s_noxgetbv: .asciz "noxgetbv"
s_skipped:  .asciz "skipped"
s_longmode: .asciz "longmode"
s_lm:       .asciz "lm "
s_cm:       .asciz "cm "

        .align 4
lm_leaves:  .long 1, 0, 7, 0, 0xd, 0, 0xd, 1
lm_leaves_end:

        .align 8
try_masks:
        .long 0xffffffff, 0xffffffff
        .long 0xfff9ffff, 0xffffffff    /* minus AMX tile cfg/data (17,18) */
        .long 0xfff9ff1f, 0xffffffff    /* minus AVX-512 (5,6,7) too */
        .long 0x00000007, 0
        .long 0x00000003, 0
try_masks_end:

        .align 8
gdt:
        .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: code, flat 4 GiB */
        .quad 0x00cf92000000ffff        /* 0x10: data, flat 4 GiB */
        .quad 0x00af9a000000ffff        /* 0x18: 64-bit code (long mode only) */
gdt_end:
gdt_desc:
        .word gdt_end - gdt - 1
        .long gdt

idt_desc:
        .word 32*8 - 1
        .long idt

        .bss
        .align 4096
pml4:       .skip 4096
pdpt:       .skip 4096
pd:         .skip 4096
lmbuf:      .skip 4*16
        .align 8
idt:        .skip 32*8
cmdline:    .long 0
want_lo:    .long 0
want_hi:    .long 0
try_lo:     .long 0
try_hi:     .long 0
fault_vec:  .long 0
recover:    .long 0
        .align 16
stack:      .skip 4096
stack_top:
