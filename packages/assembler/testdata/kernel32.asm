; A 32-bit protected-mode kernel skeleton: IDT, interrupt stubs, PIC, paging, a task switch,
; port I/O, string and x87/SSE code.
bits 32
org 0x10000

VGA        equ 0xb8000
PIC1       equ 0x20
PIC2       equ 0xa0
PAGE_DIR   equ 0x90000
PAGE_TAB   equ 0x91000
STACK_TOP  equ 0x9f000
IDT_COUNT  equ 48

kernel_entry:
        mov esp, STACK_TOP
        call clear_screen
        call remap_pic
        call build_idt
        lidt [idtr]
        call setup_paging
        mov esi, hello
        mov edi, VGA + 2 * 80
        call puts
        sti
.idle:  hlt
        jmp .idle

clear_screen:
        push edi
        push ecx
        mov edi, VGA
        mov ecx, 80 * 25
        mov ax, 0x0720
        rep stosw
        pop ecx
        pop edi
        ret

puts:   ; esi = string, edi = screen position
        mov ah, 0x1f
.next:  lodsb
        test al, al
        jz .end
        stosw
        jmp .next
.end:   ret

remap_pic:
        mov al, 0x11
        out PIC1, al
        out PIC2, al
        mov al, 0x20
        out PIC1 + 1, al
        mov al, 0x28
        out PIC2 + 1, al
        mov al, 4
        out PIC1 + 1, al
        mov al, 2
        out PIC2 + 1, al
        mov al, 1
        out PIC1 + 1, al
        out PIC2 + 1, al
        xor al, al
        out PIC1 + 1, al
        out PIC2 + 1, al
        ret

build_idt:
        xor ecx, ecx
.loop:  mov eax, [isr_table + ecx*4]
        lea edi, [idt + ecx*8]
        mov [edi], ax
        mov word [edi + 2], 0x08
        mov byte [edi + 4], 0
        mov byte [edi + 5], 0x8e
        shr eax, 16
        mov [edi + 6], ax
        inc ecx
        cmp ecx, IDT_COUNT
        jb .loop
        ret

setup_paging:
        mov edi, PAGE_DIR
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [PAGE_DIR], PAGE_TAB | 3
        mov edi, PAGE_TAB
        mov eax, 3
        mov ecx, 1024
.fill:  stosd
        add eax, 0x1000
        loop .fill
        mov eax, PAGE_DIR
        mov cr3, eax
        mov eax, cr4
        or eax, 1 << 4
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .flush
.flush: invlpg [0x1000]
        ret

; Interrupt entry: a common stub and one small stub per vector.
isr_common:
        pushad
        push ds
        push es
        push fs
        push gs
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov eax, [esp + 48]
        cmp eax, 32
        jb .exception
        cmp eax, 40
        jb .master
        mov al, 0x20
        out PIC2, al
.master:
        mov al, 0x20
        out PIC1, al
        inc dword [ticks]
        jmp .out
.exception:
        mov edx, [esp + 52]
        mov [last_error], edx
.out:   pop gs
        pop fs
        pop es
        pop ds
        popad
        add esp, 8
        iretd

isr0:   push byte 0
        push byte 0
        jmp isr_common
isr8:   push byte 8
        jmp isr_common
isr13:  push byte 13
        jmp isr_common
isr14:  push byte 14
        jmp isr_common
isr32:  push byte 0
        push byte 32
        jmp isr_common
isr33:  push byte 0
        push byte 33
        jmp near isr_common

; Context switch between two kernel threads: save callee-saved registers, swap stacks.
switch_to:      ; (old_esp_ptr, new_esp)
        mov eax, [esp + 4]
        mov edx, [esp + 8]
        push ebp
        push ebx
        push esi
        push edi
        pushfd
        mov [eax], esp
        mov esp, edx
        popfd
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

; A grab bag of encodings a kernel uses.
misc:
        lock inc dword [ticks]
        lock cmpxchg [lock_word], ecx
        lock xadd [ticks], eax
        lock bts dword [flags], 3
        xchg [lock_word], eax
        bt eax, 5
        btr dword [flags], eax
        bsf ecx, [ticks]
        bswap edx
        cpuid
        rdtsc
        rdmsr
        wrmsr
        sysenter
        sysexit
        mov eax, cr2
        mov dr7, eax
        mov eax, dr6
        clts
        wbinvd
        invd
        ltr ax
        lldt [ldt_sel]
        str [tss_sel]
        sgdt [scratch]
        sidt [scratch]
        smsw ax
        lmsw [scratch]
        lar eax, ax
        lsl ecx, [scratch]
        verr word [scratch]
        arpl [scratch], ax
        mov ax, ss
        mov ds, [scratch]
        push fs
        pop gs
        mov eax, [fs:0]
        mov [gs:ebx + 4], ecx
        movzx eax, word [esi]
        movsx edx, byte [esi + ecx - 1]
        cmovz eax, ebx
        cmovnae ecx, [ticks]
        setnz al
        sete byte [flags]
        shld eax, edx, 4
        shrd eax, edx, cl
        imul eax, [ebx], 100
        imul edx, ecx
        mul dword [ticks]
        neg eax
        not byte [flags]
        sar eax, cl
        rcr dword [flags], 1
        test byte [flags], 0x80
        test eax, 0x10000
        cmp eax, -1
        sub esp, 128
        add esp, 0x100
        and eax, 0xfffff000
        or dword [flags], 0x20
        xor eax, eax
        adc edx, 0
        sbb ecx, ecx
        lea eax, [eax + eax*2]
        lea ebx, [ebx*4 + 0x100]
        lea ecx, [esp + 8]
        lea edx, [ebp - 4]
        lea esi, [ecx*8]
        mov eax, [ebx + ecx]
        mov eax, [ebp + esi*2 + 0x7f]
        mov eax, [edi + 0x80]
        mov eax, [0xfee00020]
        mov [ticks], eax
        mov al, [flags]
        mov [flags], al
        mov word [scratch], 0xffff
        mov dword [scratch], isr0
        push isr0
        push dword [ticks]
        pop dword [ticks]
        call [isr_table + 4]
        call eax
        jmp [isr_table + ecx*4]
        call 0x18:0
        jmp 0x28:misc
        jmp far [far_ptr]
        call far [far_ptr]
        retf
        int 0x80
        in al, 0x60
        in eax, dx
        out 0x43, al
        out dx, eax
        rep insd
        rep outsb
        cli
        sti
        hlt
        pause
        ud2
        nop
        fninit
        finit
        fld dword [float_one]
        fld qword [double_pi]
        fld tword [ext]
        fild dword [ticks]
        fadd st0, st1
        fmul st1, st0
        fmulp st1, st0
        fdivp
        fsqrt
        fsin
        fxch st2
        fcomip st0, st1
        fucomi st1
        fstp dword [scratch]
        fistp qword [scratch]
        fnstsw ax
        fstsw ax
        fnstcw [scratch]
        fldcw [scratch]
        fxsave [fxarea]
        fxrstor [fxarea]
        movaps xmm0, [fxarea]
        movups [fxarea + 16], xmm1
        addps xmm0, xmm1
        mulss xmm2, [float_one]
        cvtsi2sd xmm3, eax
        cvttsd2si eax, xmm3
        pxor xmm4, xmm4
        movd xmm5, eax
        movq xmm6, [double_pi]
        pshufd xmm0, xmm1, 0x1b
        psrldq xmm2, 4
        movdqa [fxarea + 32], xmm0
        ldmxcsr [scratch]
        stmxcsr [scratch]
        sfence
        lfence
        mfence
        emms
        ret

hello:      db 'ringzero kernel', 0
            align 4
ticks:      dd 0
flags:      dd 0
lock_word:  dd 0
last_error: dd 0
ldt_sel:    dw 0
tss_sel:    dw 0
far_ptr:    dd misc
            dw 0x08
float_one:  dd 1.0
double_pi:  dq 3.141592653589793
ext:        dt 2.5
scratch:    times 16 db 0
isr_table:  dd isr0, isr0, isr0, isr0, isr0, isr0, isr0, isr0
            dd isr8, isr0, isr0, isr0, isr0, isr13, isr14, isr0
            times 16 dd isr0
            dd isr32, isr33
            times IDT_COUNT - 34 dd isr0
idtr:       dw IDT_COUNT * 8 - 1
            dd idt
            align 16
fxarea:     times 512 db 0
idt:        times IDT_COUNT dq 0
