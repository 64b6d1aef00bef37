; A boot sector that loads a kernel with the BIOS, enables A20, sets up a GDT and enters
; protected mode: the kind of code the teaching kernel in packages/guests starts with.
bits 16
org 0x7c00

KERNEL_SEG  equ 0x1000
KERNEL_SECT equ 16
CODE_SEL    equ gdt.code - gdt
DATA_SEL    equ gdt.data - gdt

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        mov [boot_drive], dl
        cld

        mov si, msg_loading
        call print

.reset: xor ah, ah
        int 0x13
        jc .reset

        mov ax, KERNEL_SEG
        mov es, ax
        xor bx, bx
        mov ah, 0x02
        mov al, KERNEL_SECT
        mov ch, 0
        mov cl, 2
        mov dh, 0
        mov dl, [boot_drive]
        int 0x13
        jc disk_error
        cmp al, KERNEL_SECT
        jne disk_error

        ; A20 through the fast gate, then the keyboard controller.
        in al, 0x92
        or al, 2
        and al, ~1 & 0xff
        out 0x92, al
        call kbc_wait
        mov al, 0xd1
        out 0x64, al
        call kbc_wait
        mov al, 0xdf
        out 0x60, al
        call kbc_wait

        lgdt [gdtr]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        jmp CODE_SEL:pm_entry

kbc_wait:
        in al, 0x64
        test al, 2
        jnz kbc_wait
        ret

print:
        lodsb
        test al, al
        jz .done
        mov ah, 0x0e
        mov bx, 7
        int 0x10
        jmp print
.done:  ret

disk_error:
        mov si, msg_error
        call print
.hang:  hlt
        jmp short .hang

; Addressing forms of 16-bit code.
forms16:
        mov ax, [bx]
        mov ax, [bp]
        mov ax, [si]
        mov ax, [di]
        mov ax, [bx+si]
        mov ax, [bx+di]
        mov ax, [bp+si]
        mov ax, [bp+di]
        mov ax, [bx+si+4]
        mov ax, [bp+di-2]
        mov ax, [bx+0x1234]
        mov ax, [si+0x80]
        mov ax, [di-0x80]
        mov al, [0x0472]
        mov [0x0472], ax
        mov word [es:di], 0x0720
        mov byte [ss:bp+2], 1
        mov eax, [ebx+ecx*4+8]
        mov al, [cs:table+bx]
        les di, [bp+4]
        lds si, [bx]
        push word [bp+6]
        pop word [bx]
        push es
        pop es
        push dword 0x12345678
        pushf
        pushfd
        popf
        pusha
        popa
        call far [bx+4]
        jmp far [bp]
        call 0xf000:0xfff0
        jmp 0x0000:0x7c00
        rep movsw
        rep stosb
        repe cmpsb
        repne scasb
        xlatb
        movzx eax, byte [si]
        movsx ecx, word [bx+di]
        shl ax, 1
        shl ax, 4
        shr bx, cl
        rol byte [si], 1
        imul ax, bx, 10
        imul cx, 300
        div word [bx]
        aam
        aad 10
        daa
        in ax, dx
        out dx, al
        insb
        outsw
        int 3
        int3
        into
        iret
        retf
        retf 4
        ret 2
        enter 16, 0
        leave
        loop .near
        jcxz .near
        jecxz .near
.near:  loope .near
        loopne .near
        lea si, [bp+di+0x10]
        xchg ax, bx
        xchg bx, cx
        cbw
        cwd
        cwde
        lahf
        sahf
        clc
        stc
        cmc
        cld
        std
        nop
        wait

table:  db 0, 1, 2, 3
msg_loading: db 'Loading kernel', 13, 10, 0
msg_error:   db "Disk error", 13, 10, 0
boot_drive:  db 0

align 8
gdt:
.null:  dq 0
.code:  dw 0xffff, 0
        db 0, 10011010b, 11001111b, 0
.data:  dw 0xffff, 0
        db 0, 0x92, 0xcf, 0
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt

bits 32
pm_entry:
        mov ax, DATA_SEL
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        mov esp, 0x90000
        jmp CODE_SEL:(KERNEL_SEG << 4)

        times 510 - ($ - $$) db 0
        dw 0xaa55
