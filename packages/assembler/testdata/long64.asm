; Entering long mode from 32-bit protected mode, then 64-bit kernel code: identity-mapped
; 2 MiB pages, a 64-bit GDT, SYSCALL setup, RIP-relative data, the REX registers.
bits 32
org 0x100000

PML4      equ 0x1000
PDPT      equ 0x2000
PD        equ 0x3000
EFER      equ 0xc0000080
STAR      equ 0xc0000081
LSTAR     equ 0xc0000082
SFMASK    equ 0xc0000084

entry32:
        mov edi, PML4
        xor eax, eax
        mov ecx, 3 * 4096 / 4
        rep stosd
        mov dword [PML4], PDPT | 3
        mov dword [PDPT], PD | 3
        mov edi, PD
        mov eax, 0x83
        mov ecx, 512
.map:   mov [edi], eax
        mov dword [edi + 4], 0
        add eax, 0x200000
        add edi, 8
        loop .map
        mov eax, cr4
        or eax, (1 << 5) | (1 << 7)
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, EFER
        rdmsr
        or eax, (1 << 8) | (1 << 0)
        wrmsr
        mov eax, cr0
        or eax, (1 << 31) | 1
        mov cr0, eax
        lgdt [gdt64.pointer]
        jmp gdt64.code:entry64

bits 64
default rel
entry64:
        mov ax, gdt64.data
        mov ds, ax
        mov es, ax
        mov ss, ax
        xor eax, eax
        mov fs, ax
        mov gs, ax
        lea rsp, [stack_top]
        mov rdi, 0xb8000
        mov rax, 0x1f201f201f201f20
        mov ecx, 500
        rep stosq
        call setup_syscall
        lea rsi, [message]
        mov rdi, 0xb8000
        call puts64
.halt:  hlt
        jmp .halt

puts64:
        mov ah, 0x2f
.next:  lodsb
        test al, al
        jz .done
        stosw
        jmp .next
.done:  ret

setup_syscall:
        mov ecx, STAR
        xor eax, eax
        mov edx, (0x1b << 16) | 0x08
        wrmsr
        mov ecx, LSTAR
        lea rax, [syscall_entry]
        mov rdx, rax
        shr rdx, 32
        wrmsr
        mov ecx, SFMASK
        mov eax, 0x200
        xor edx, edx
        wrmsr
        ret

syscall_entry:
        swapgs
        mov [gs:8], rsp
        mov rsp, [gs:0]
        push rcx
        push r11
        push rbp
        mov rbp, rsp
        cmp rax, SYSCALL_COUNT
        jae .bad
        lea r10, [syscall_table]
        call [r10 + rax*8]
        jmp .out
.bad:   mov rax, -38
.out:   pop rbp
        pop r11
        pop rcx
        mov rsp, [gs:8]
        swapgs
        o64 sysret

sys_write:
        mov rax, rdx
        ret
sys_exit:
        cli
        hlt
        ret

; 64-bit encodings: REX registers, RIP-relative memory, SIB forms, immediates.
forms64:
        mov rax, 1
        mov r8, 1
        mov rax, -1
        mov rax, 0x123456789abcdef0
        mov r15d, 0xffffffff
        mov eax, [counter]
        mov [counter], rax
        inc qword [counter]
        lock xadd [counter], rbx
        add qword [rel counter], 16
        mov rax, [abs 0x1000]
        mov rax, [rbx*2]
        mov rax, [r12]
        mov rax, [r13]
        mov rax, [rsp + 8]
        mov rax, [rbp - 8]
        mov rax, [r8 + r9*4 + 0x40]
        mov r10, [r11 + r12*8 - 0x1000]
        mov al, [rsi + rdi]
        mov sil, dil
        mov r8b, al
        mov ah, bl
        movzx r9d, r10b
        movsx rax, word [rbx]
        movsxd rdx, ecx
        movsx rcx, eax
        lea rax, [eax + 4]
        push r12
        pop r13
        push 0x1000
        push -1
        push qword [counter]
        pushfq
        popf
        xchg rax, r8
        xchg r9, r10
        xchg eax, eax
        nop
        cqo
        cdqe
        imul rax, rbx, 0x10
        imul r8, [rsi], -3
        shl r9, 12
        sar qword [counter], 1
        bswap r11
        bts rax, 63
        popcnt rax, [counter]
        lzcnt ecx, edx
        tzcnt r8, r9
        crc32 eax, byte [rsi]
        crc32 rax, qword [rsi]
        cmpxchg16b [r14]
        cmovg rax, [counter]
        setb r8b
        test r12, r12
        cmp r13d, 0x7f
        and r14w, 0x7fff
        sub rsp, 0x28
        add rsp, 0x28
        jmp rax
        call r11
        call [rbx + 8]
        jmp qword [r10]
        jmp far [rsi]
        call .local
.local: ret
        ret 8
        retfq
        iretq
        iretd
        syscall
        o64 sysexit
        rdtscp
        rdrand rax
        rdseed ecx
        rdfsbase rax
        wrgsbase rbx
        mov cr8, rax
        mov rax, cr3
        mov dr0, rax
        invlpg [rdi]
        invept rax, [rsi]
        lgdt [gdt64.pointer]
        lidt [rdi]
        sgdt [rsp]
        ltr ax
        str eax
        clac
        stac
        xsave [rdi]
        xrstor64 [rsi]
        xsetbv
        movq xmm0, rax
        movq rax, xmm1
        movq xmm2, xmm3
        movd xmm4, ecx
        movdqu xmm8, [r9 + r10*8 + 0x100]
        movaps xmm15, xmm14
        paddd xmm9, xmm10
        pshufb xmm0, [shuffle]
        cvtsi2ss xmm1, rax
        cvtsi2sd xmm2, qword [counter]
        cvttss2si r8, xmm3
        pinsrq xmm0, rax, 1
        pextrd eax, xmm1, 2
        pcmpeqb xmm0, [rdi]
        pmovmskb eax, xmm0
        aesenc xmm0, xmm1
        pclmulqdq xmm2, xmm3, 0x11
        vmovdqu ymm0, [rsi]
        vpaddd ymm1, ymm2, ymm3
        vpxor xmm8, xmm9, xmm10
        vzeroupper
        andn rax, rbx, rcx
        shlx r8, r9, r10
        rorx eax, ebx, 5
        fld qword [rsp]
        fstp tword [rsp]
        ret

SYSCALL_COUNT equ (syscall_table.end - syscall_table) / 8

        align 8
syscall_table:
        dq sys_write, sys_exit
.end:
counter:  dq 0
shuffle:  db 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
message:  db `64-bit kernel\n\0`

        align 16
gdt64:
.null:  equ $ - gdt64
        dq 0
.code:  equ $ - gdt64
        dq (1 << 43) | (1 << 44) | (1 << 47) | (1 << 53)
.data:  equ $ - gdt64
        dq (1 << 41) | (1 << 44) | (1 << 47)
.pointer:
        dw $ - gdt64 - 1
        dq gdt64

        alignb 16
stack:  resb 4096
stack_top:
